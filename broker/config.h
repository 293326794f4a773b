/* broker.ini: one table of options with their defaults (DESIGN.md section 10). */
#ifndef CF_BROKER_CONFIG_H
#define CF_BROKER_CONFIG_H

#include <stddef.h>

#include "childfirst/error.h"

#define CF_PATH_MAX 1024

struct cf_config {
    char endpoint[256];
    char state_dir[CF_PATH_MAX];
    char key_file[CF_PATH_MAX];
    char authority_key[64];
    char directory[CF_PATH_MAX];
    char policy[CF_PATH_MAX];
    char calendars[CF_PATH_MAX];
    char origin[129];
    unsigned long long map_size_mb, map_max_mb, min_free_mb, retention_days;
    unsigned long long credit_window, batch_max, heartbeat_ms, verify_threads;
    unsigned long long commit_ms, redo_max_mb;
    char log_level[16];
};

/* Fills defaults, then reads `path`. Unknown sections or keys, repeats and bad
 * values are errors naming the file and line. */
CF_WUR int cf_config_load(const char *path, struct cf_config *c, struct cf_error *err);

#endif
