#!/usr/bin/env python3
"""Prints bench/run.sh's figures side by side: ChildFirst, the raw limit or
the RabbitMQ peer measured in the same run, and the ratio, with issue 8's
target where it names one. Reads OUT/{broker,e2e,rabbit}.json."""
import json
import os
import sys


def load(out, name):
    path = os.path.join(out, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ratio(x, y):
    return x / y if y else float("nan")


def main():
    out = sys.argv[1]
    b = load(out, "broker.json")
    e = load(out, "e2e.json")
    r = load(out, "rabbit.json")
    if b is None:
        sys.exit("summary: no broker.json in " + out)
    cores = b["cores"]
    ed = b["raw_ed25519_verify_per_s"]
    rows = []

    def row(name, ours, against="", rat="", target=""):
        rows.append((name, ours, against, rat, target))

    row("raw: lmdb synced commit, batch 1", "%.0f /s" % b["raw_lmdb_commit_b1_per_s"])
    row("raw: lmdb synced commit, batch 100", "%.0f /s" % b["raw_lmdb_commit_b100_per_s"])
    row("raw: ed25519 verify, 1 core", "%.0f /s" % ed, "x %d cores = %.0f /s" % (cores, ed * cores))
    row("raw: zmq CURVE round trip", "%.0f /s, p50 %.0f us" % (
        b["raw_zmq_rtt_curve_per_s"], b["raw_zmq_rtt_curve_p50_us"]))
    row("raw: floor (CURVE rtt + synced commit)", "%.0f /s, p50 %.0f us" % (
        b["raw_floor_per_s"], b["raw_floor_p50_us"]))
    p50 = b["broker_1x1_p50_us"]
    row("1 in flight: accept p50", "%.0f us" % p50, "floor p50 %.0f us" % b["raw_floor_p50_us"],
        "%.2f x" % ratio(p50, b["raw_floor_p50_us"]), "<= 1.15 x")
    if r:
        row("1 in flight: accept p50 vs RabbitMQ", "%.0f us" % p50,
            "confirm p50 %.0f us" % r["rabbit_1x1_p50_us"],
            "%.2f x" % ratio(p50, r["rabbit_1x1_p50_us"]))
        row("1 in flight: rate vs RabbitMQ", "%.0f /s" % b["broker_1x1_accepts_per_s"],
            "%.0f /s" % r["rabbit_1x1_per_s"],
            "%.2f x" % ratio(b["broker_1x1_accepts_per_s"], r["rabbit_1x1_per_s"]))
    for k, label in (("1x100", "100 in flight"), ("4x100", "4 conns x 100")):
        per_s = b["broker_%s_accepts_per_s" % k]
        row("%s: accepts" % label, "%.0f /s (p99 %.0f ms, %.0f frames/commit)" % (
            per_s, b["broker_%s_p99_us" % k] / 1000, b["broker_%s_frames_per_commit" % k]),
            "ed25519 x %d cores %.0f /s" % (cores, ed * cores),
            "%.2f x" % ratio(per_s, ed * cores), ">= 0.70 x" if k == "4x100" else "")
        if r and k == "4x100":
            row("%s: accepts vs RabbitMQ" % label, "%.0f /s" % per_s,
                "%.0f /s (%d x %d, confirms)" % (r["rabbit_many_per_s"], r["publishers"],
                                                 r["in_flight"]),
                "%.2f x" % ratio(per_s, r["rabbit_many_per_s"]), ">= 1.00 x")
    row("steady %.0f/s: submit->Accepted" % b["steady_rate"], "p50 %.0f / p99 %.0f / p99.9 %.0f us" % (
        b["steady_accepted_p50_us"], b["steady_accepted_p99_us"], b["steady_accepted_p999_us"]),
        "floor p50 %.0f us" % b["raw_floor_p50_us"],
        "%.2f x" % ratio(b["steady_accepted_p50_us"], b["raw_floor_p50_us"]))
    row("steady %.0f/s: submit->DeliveryAck" % b["steady_rate"], "p50 %.0f / p99 %.0f / p99.9 %.0f us" % (
        b["steady_ack_p50_us"], b["steady_ack_p99_us"], b["steady_ack_p999_us"]))
    scale = b.get("scale") or []
    for pt in scale:
        row("scaling: %d records in the log" % pt["records"], "%.0f /s, p99 %.0f ms" % (
            pt["per_s"], pt["p99_us"] / 1000), "first point %.0f /s" % scale[0]["per_s"],
            "%.2f x" % ratio(pt["per_s"], scale[0]["per_s"]), "flat")
    if scale:
        row("memory: %d queued for offline la-duty" % b["scale_queued_offline"],
            "RssAnon %.0f MB (VmRSS %.0f MB)" % (b["scale_rss_anon_kb"] / 1024,
                                                  b["scale_rss_kb"] / 1024),
            "RssFile %.0f MB: LMDB pages" % (b["scale_rss_file_kb"] / 1024), "", "flat")
        row("restart to first Accepted, %d records" % b["scale_records"],
            "%.0f ms" % b["restart_ms"])
    if e:
        for n in (1, 4, 16):
            key = "e2e_%d_per_s" % n
            if key in e:
                row("end to end, %d sending agent(s)" % n, "%.0f /s delivered (%.0f /s accepted)" % (
                    e[key], e["e2e_%d_accepted_per_s" % n]),
                    "crypto limit %.0f /s (%.0f us/referral)" % (e["crypto_limit_per_s"],
                                                               e["crypto_us_per_referral"]),
                    "%.2f x" % e["e2e_%d_ratio_to_crypto" % n])
    if r:
        row("peer: RabbitMQ 1 in flight", "%.0f /s, confirm p50 %.0f us" % (
            r["rabbit_1x1_per_s"], r["rabbit_1x1_p50_us"]))
        row("peer: RabbitMQ %d x %d" % (r["publishers"], r["in_flight"]),
            "%.0f /s, confirm p99 %.0f ms; consumed %d of %d" % (
                r["rabbit_many_per_s"], r["rabbit_many_p99_us"] / 1000, r["rabbit_many_consumed"],
                r["rabbit_many_confirmed"]))
    else:
        row("peer: RabbitMQ", "not measured (see run.sh's message)")
    widths = [max(len(x[i]) for x in rows + [("figure", "ChildFirst", "limit / peer", "ratio",
                                               "target")]) for i in range(5)]
    head = ("figure", "ChildFirst", "limit / peer", "ratio", "target")
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for x in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(x, widths)))


if __name__ == "__main__":
    main()
