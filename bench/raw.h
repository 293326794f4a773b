/* Raw limits of the machine: what LMDB, libsodium and ZeroMQ can do on their
 * own, measured the way the broker uses them, so a broker benchmark can print
 * its own figures as ratios of these in the same run.
 *
 * Every function runs for about `seconds` of wall-clock time and returns a
 * rate per second. On failure it prints one line naming the failed call on
 * stderr, releases what it holds and returns a negative rate; it never exits.
 * Each call is self-contained (its own LMDB environment, its own ZeroMQ
 * context), so calls may be made in any order and repeated.
 */
#ifndef CHILDFIRST_BENCH_RAW_H
#define CHILDFIRST_BENCH_RAW_H

#include <stdbool.h>

/* Size of the records written by the LMDB measurements, in bytes. */
#define RAW_RECORD_LEN 512
/* Size of the message echoed by the round-trip measurements, in bytes. */
#define RAW_MESSAGE_LEN 200

/* One round-trip measurement with one message in flight. */
struct raw_rtt {
    double per_s;  /* round trips per second; negative on failure */
    double p50_us; /* median latency, microseconds */
    double p99_us; /* 99th percentile latency, microseconds */
    long count;    /* round trips measured (warm-up excluded) */
};

/* Synced LMDB commits per second.
 *
 * @param dir an existing folder on the disk to measure; borrowed. A fresh
 *        environment is made in a new subfolder of it (default durability:
 *        no MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP; 1 GiB map) and
 *        removed before returning.
 * @param batch records per transaction, each RAW_RECORD_LEN random bytes
 *        under increasing 8-byte big-endian keys; at least 1.
 * @param seconds how long to measure; if the map fills first, the rate
 *        covers the commits made until then.
 * @return commits per second (records per second is this times batch), or a
 *         negative value on failure.
 */
double raw_lmdb_commits_per_s(const char *dir, int batch, double seconds);

/* crypto_sign_verify_detached over RAW_MESSAGE_LEN-byte messages, one thread.
 * @return verifies per second, or a negative value on failure.
 */
double raw_ed25519_verifies_per_s(double seconds);

/* BLAKE2b-256 (crypto_generichash, 32-byte output) of a 1 KiB buffer.
 * @return hashes per second, or a negative value on failure.
 */
double raw_blake2b_per_s(double seconds);

/* crypto_box_seal_open of a sealed 32-byte content key: what each recipient
 * pays to open an envelope.
 * @return opens per second, or a negative value on failure.
 */
double raw_box_seal_open_per_s(double seconds);

/* DEALER to ROUTER round trips over tcp://127.0.0.1 on a port picked at run
 * time, the server echoing RAW_MESSAGE_LEN bytes from a second thread.
 * @param curve true to encrypt with CURVE (the server accepts any client key,
 *        as no ZAP handler is installed).
 * @return the figures; per_s is negative on failure.
 */
struct raw_rtt raw_zmq_rtt(bool curve, double seconds);

/* The latency floor of a durable broker at one message in flight: a CURVE
 * round trip in which the server commits one RAW_RECORD_LEN record with a
 * synced LMDB commit before it replies.
 * @param dir as for raw_lmdb_commits_per_s; borrowed.
 * @return the figures; per_s is negative on failure.
 */
struct raw_rtt raw_floor_rtt(const char *dir, double seconds);

#endif
