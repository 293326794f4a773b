/* bench_raw: prints the raw limits of this machine (synced LMDB commits,
 * libsodium primitives, ZeroMQ round trips) so the broker's own figures can
 * be read as ratios of them. It prints figures only and judges nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raw.h"

#define MAX_SECONDS 3600.0

static const int batches[] = {1, 100, 1000};
#define BATCH_COUNT (sizeof batches / sizeof batches[0])

struct options {
    double seconds;
    const char *dir; /* NULL: make a temporary folder in the current one */
    int json;
};

struct results {
    double commits_per_s[BATCH_COUNT];
    double ed25519_per_s;
    double blake2b_per_s;
    double seal_open_per_s;
    struct raw_rtt plain;
    struct raw_rtt curve;
    struct raw_rtt floor;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_raw [--seconds S] [--dir DIR] [--json]\n"
                 "\n"
                 "Measures the raw limits of this machine, about S seconds each:\n"
                 "  synced LMDB commits at batch 1, 100 and 1000 (default durability)\n"
                 "  Ed25519 verify, BLAKE2b-256 of 1 KiB, crypto_box_seal_open (one core)\n"
                 "  ZeroMQ DEALER/ROUTER round trips on 127.0.0.1, plain and CURVE\n"
                 "  a CURVE round trip with a synced one-record commit before the reply\n"
                 "\n"
                 "  --seconds S  time per measurement (default 2)\n"
                 "  --dir DIR    folder on the disk to measure (default: a temporary\n"
                 "               folder in the current one, removed at the end)\n"
                 "  --json       print one JSON object instead of a table\n");
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    opt->seconds = 2.0;
    opt->dir = NULL;
    opt->json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;

            errno = 0;
            opt->seconds = strtod(argv[++i], &end);
            if (errno != 0 || end == argv[i] || *end != '\0' || !(opt->seconds > 0.0) ||
                opt->seconds > MAX_SECONDS) {
                fprintf(stderr, "bench_raw: --seconds wants a number in (0, %.0f]\n", MAX_SECONDS);
                return -1;
            }
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            opt->dir = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            opt->json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_raw: unknown or incomplete option: %s\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* Runs every measurement in turn, stopping at the first that fails. */
static int measure(const char *dir, double seconds, struct results *r)
{
    for (size_t i = 0; i < BATCH_COUNT; i++)
        if ((r->commits_per_s[i] = raw_lmdb_commits_per_s(dir, batches[i], seconds)) < 0)
            return -1;
    if ((r->ed25519_per_s = raw_ed25519_verifies_per_s(seconds)) < 0)
        return -1;
    if ((r->blake2b_per_s = raw_blake2b_per_s(seconds)) < 0)
        return -1;
    if ((r->seal_open_per_s = raw_box_seal_open_per_s(seconds)) < 0)
        return -1;
    if ((r->plain = raw_zmq_rtt(false, seconds)).per_s < 0)
        return -1;
    if ((r->curve = raw_zmq_rtt(true, seconds)).per_s < 0)
        return -1;
    if ((r->floor = raw_floor_rtt(dir, seconds)).per_s < 0)
        return -1;
    return 0;
}

static void print_rtt_table(const char *label, const struct raw_rtt *rtt)
{
    printf("%-36s %10.0f /s   p50 %6.1f us   p99 %6.1f us\n", label, rtt->per_s, rtt->p50_us,
           rtt->p99_us);
}

static void print_table(const struct results *r, long cores, double seconds, const char *dir)
{
    printf("raw limits on this machine (%ld cores, %g s each; disk: %s)\n", cores, seconds, dir);
    for (size_t i = 0; i < BATCH_COUNT; i++) {
        char label[64];

        snprintf(label, sizeof label, "lmdb synced commit, batch %d", batches[i]);
        printf("%-36s %10.0f commits/s %12.0f records/s\n", label, r->commits_per_s[i],
               r->commits_per_s[i] * batches[i]);
    }
    printf("%-36s %10.0f /s\n", "ed25519 verify (1 core)", r->ed25519_per_s);
    printf("%-36s %10.0f /s\n", "blake2b-256 of 1 KiB (1 core)", r->blake2b_per_s);
    printf("%-36s %10.0f /s\n", "box_seal_open of a key (1 core)", r->seal_open_per_s);
    print_rtt_table("zmq round trip, plain", &r->plain);
    print_rtt_table("zmq round trip, CURVE", &r->curve);
    print_rtt_table("floor: CURVE rtt + synced commit", &r->floor);
}

static void print_rtt_json(const char *name, const struct raw_rtt *rtt)
{
    printf(",\"%s_per_s\":%.1f,\"%s_p50_us\":%.1f,\"%s_p99_us\":%.1f", name, rtt->per_s, name,
           rtt->p50_us, name, rtt->p99_us);
}

static void print_json(const struct results *r, long cores, double seconds)
{
    printf("{\"cores\":%ld,\"seconds\":%g", cores, seconds);
    for (size_t i = 0; i < BATCH_COUNT; i++)
        printf(",\"lmdb_commit_b%d_per_s\":%.1f,\"lmdb_records_b%d_per_s\":%.1f", batches[i],
               r->commits_per_s[i], batches[i], r->commits_per_s[i] * batches[i]);
    printf(",\"ed25519_verify_per_s\":%.1f", r->ed25519_per_s);
    printf(",\"blake2b256_1k_per_s\":%.1f", r->blake2b_per_s);
    printf(",\"box_seal_open_per_s\":%.1f", r->seal_open_per_s);
    print_rtt_json("zmq_rtt_plain", &r->plain);
    print_rtt_json("zmq_rtt_curve", &r->curve);
    print_rtt_json("floor_curve_commit", &r->floor);
    printf("}\n");
}

int main(int argc, char **argv)
{
    struct options opt;
    struct results r;
    char made[] = "bench_raw.XXXXXX";
    char where[PATH_MAX];
    const char *dir;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int status = EXIT_FAILURE;

    if (parse_options(argc, argv, &opt) != 0)
        return EXIT_FAILURE;
    if (opt.dir != NULL) {
        dir = opt.dir;
    } else if ((dir = mkdtemp(made)) == NULL) {
        fprintf(stderr, "bench_raw: mkdtemp %s in the current folder: %s\n", made, strerror(errno));
        return EXIT_FAILURE;
    }

    if (realpath(dir, where) == NULL) {
        fprintf(stderr, "bench_raw: %s: %s\n", dir, strerror(errno));
        goto out;
    }
    if (measure(dir, opt.seconds, &r) != 0) {
        fprintf(stderr, "bench_raw: a measurement failed; see above\n");
        goto out;
    }
    if (opt.json)
        print_json(&r, cores, opt.seconds);
    else
        print_table(&r, cores, opt.seconds, where);
    if (fflush(stdout) != 0) {
        perror("bench_raw: writing stdout");
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    /* Each measurement removed its own subfolder; only ours is left. */
    if (opt.dir == NULL && rmdir(made) != 0) {
        fprintf(stderr, "bench_raw: rmdir %s: %s\n", made, strerror(errno));
        status = EXIT_FAILURE;
    }
    return status;
}
