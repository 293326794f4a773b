#!/bin/sh
# Tests deploy/hooks/mail-duty-inbox against a fake sendmail that keeps what
# it is given: the mail for each notice kind, notices as the agent writes them
# (indented) and compact; and the refusals: a message with a payload, a notice
# with a payload key, values that try to add a header, garbage, a missing or
# malformed address, and a failing sendmail (whose status it must return, so
# the agent retries). Usage: test_mail_duty_inbox.sh [PATH/TO/mail-duty-inbox]
set -u
LC_ALL=C
export LC_ALL
hook=${1:-$(dirname "$0")/../../deploy/hooks/mail-duty-inbox}
work=$(mktemp -d /tmp/cf-mailtest-XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/bin"
cat > "$work/bin/sendmail" << 'EOF'
#!/bin/sh
# A fake sendmail: each mail appended to $FAKE_MAIL with its arguments; exits
# $FAKE_STATUS (default 0).
{ echo "=== sendmail $*"; cat; echo "=== end"; } >> "$FAKE_MAIL"
exit "${FAKE_STATUS:-0}"
EOF
chmod 755 "$work/bin/sendmail"
FAKE_MAIL=$work/mail.log
export FAKE_MAIL
PATH=$work/bin:$PATH
unset CHILDFIRST_MAIL_TO CHILDFIRST_MAIL_FROM CHILDFIRST_SENDMAIL FAKE_STATUS

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    [ ! -f "$FAKE_MAIL" ] || sed 's/^/    | /' "$FAKE_MAIL"
}
# run NAME EXPECTED_STATUS ARGS... < input: runs the hook on a fresh mail log.
run() {
    name=$1 want=$2
    shift 2
    rm -f "$FAKE_MAIL"
    sh "$hook" "$@" > "$work/out" 2> "$work/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$name: exit $want"; else bad "$name: exit $got, not $want ($(cat "$work/err"))"; fi
}
has() { # has NAME TEXT: the last mail contains TEXT
    if [ -f "$FAKE_MAIL" ] && grep -qF -- "$2" "$FAKE_MAIL"; then ok "$1"; else bad "$1: no '$2' in the mail"; fi
}
lacks() { # lacks NAME TEXT: no mail, or one without TEXT
    if [ -f "$FAKE_MAIL" ] && grep -qF -- "$2" "$FAKE_MAIL"; then bad "$1: '$2' in the mail"; else ok "$1"; fi
}
no_mail() {
    if [ -f "$FAKE_MAIL" ]; then bad "$1: a mail was sent"; else ok "$1"; fi
}

CASE=cf-abcdefghijklmnopqrstuvwxyq
notice() { # notice KIND [EXTRA_JSON_LINES]: indented, sorted, as the agent writes it
    printf '{\n  "case_id": "%s",\n  "created_at": "2026-11-20T09:30:00.250Z",\n' "$CASE"
    [ -z "${2:-}" ] || printf '%s\n' "$2"
    printf '  "immediate_risk": true,\n  "kind": "%s",\n  "leaf_index": 9,\n' "$1"
    printf '  "message_id": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",\n'
    printf '  "referring_agency": "police-a",\n  "sender": "broker",\n  "state": "referred",\n'
    printf '  "type": "notice",\n  "urgency": "immediate"\n}\n'
}

# Every kind the broker issues is mailed, with its kind and case.
for kind in new_referral undelivered non_delivery deadline_near deadline_breached inquorate \
    convened determination determination_rejected transfer_in; do
    notice "$kind" | run "$kind" 0 duty@la.example
    has "$kind: To:" "To: duty@la.example"
    has "$kind: Subject:" "Subject: [ChildFirst] IMMEDIATE (immediate risk): $kind, case $CASE"
    has "$kind: sendmail -t -oi" "=== sendmail -t -oi"
    has "$kind: body names the kind" "Notice:      $kind"
    has "$kind: body names the case" "Case:        $CASE"
    has "$kind: tells the reader to open the case" "childfirst case $CASE"
    has "$kind: high importance" "Importance: high"
done

# A deadline: its name and due time; the agencies outstanding.
notice deadline_breached '  "deadline": "acknowledgement",
  "due": "2026-11-23T23:59:59.999Z",
  "outstanding": [
    "guardian-x",
    "la-csc"
  ],' | run "deadline with outstanding" 0 duty@la.example
has "deadline and due" "Deadline:    acknowledgement, due 2026-11-23T23:59:59.999Z"
has "outstanding agencies" "Outstanding: guardian-x, la-csc (not yet acknowledged)"

# Compact JSON on one line, an urgent notice without immediate risk, and the
# address from the environment.
printf '{"type":"notice","kind":"undelivered","case_id":"%s","urgency":"urgent","immediate_risk":false,"outstanding":["la-csc"],"code":"CF_EDECRYPT","sender":"broker"}' "$CASE" |
    CHILDFIRST_MAIL_TO=a@la.example,b@la.example run "compact, from CHILDFIRST_MAIL_TO" 0
has "both addresses" "To: a@la.example,b@la.example"
has "urgent subject" "Subject: [ChildFirst] URGENT: undelivered, case $CASE"
has "nack code" "Code:        CF_EDECRYPT"
lacks "no high importance when urgent" "Importance: high"
lacks "no immediate risk when false" "immediate risk"

# A message (it has a payload) is never mailed, whatever it says.
printf '{"type":"referral","case_id":"%s","sender":"police-a","urgency":"immediate","payload":{"child":{"given_name":"Amanuel"},"narrative":"a man he calls the uncle"}}' "$CASE" |
    run "a referral is skipped" 0 duty@la.example
no_mail "a referral sends nothing"
if grep -q "skipped" "$work/err"; then ok "the skip is logged"; else bad "the skip is not logged"; fi
printf '{"type":"notice","kind":"new_referral","case_id":"%s","payload":{"narrative":"Amanuel"}}' "$CASE" |
    run "a notice with a payload is skipped" 0 duty@la.example
no_mail "a notice with a payload sends nothing"
printf '{"type":"notice","kind":"new_referral","case_id":"%s","nrm_return":{"sex":"male"}}' "$CASE" |
    run "a notice with an NRM return is skipped" 0 duty@la.example
no_mail "a notice with an NRM return sends nothing"
printf 'this is not JSON at all\n' | run "garbage is skipped" 0 duty@la.example
no_mail "garbage sends nothing"
: | run "empty input is skipped" 0 duty@la.example
no_mail "empty input sends nothing"

# Values that try to smuggle in a header or text are dropped, not passed on.
printf '{"type":"notice","kind":"new_referral","case_id":"%s\\nBcc: evil@x.example","urgency":"immediate\\nBcc: evil@x.example","referring_agency":"Amanuel Testchild","sender":"broker"}' "$CASE" |
    run "injected case id" 0 duty@la.example
no_mail "a notice without a valid case id sends nothing"
printf '{"type":"notice","kind":"new_referral","case_id":"%s","urgency":"immediate\\nBcc: evil@x.example","referring_agency":"Amanuel Testchild","state":"Amanuel","sender":"broker"}' "$CASE" |
    run "injected urgency" 0 duty@la.example
lacks "no Bcc header" "Bcc"
lacks "no free text from a referring_agency" "Amanuel"
has "still mailed, with the case" "Case:        $CASE"

# Addresses.
notice new_referral | run "no address" 2
no_mail "no address sends nothing"
notice new_referral | run "an address with a space" 2 "duty@la.example Bcc:evil@x.example"
no_mail "a bad address sends nothing"
notice new_referral | run "an address with a line break" 2 "duty@la.example
Bcc: evil@x.example"
no_mail "an address with a line break sends nothing"
notice new_referral | CHILDFIRST_MAIL_FROM="x@y
Bcc: z" run "a bad From" 2 duty@la.example
no_mail "a bad From sends nothing"
notice new_referral | CHILDFIRST_MAIL_FROM=childfirst@la.example run "From" 0 duty@la.example
has "From: header" "From: childfirst@la.example"

# sendmail's failure is the hook's, so the agent tries again later.
notice new_referral | FAKE_STATUS=75 run "sendmail fails" 75 duty@la.example
notice new_referral | CHILDFIRST_SENDMAIL=/nonexistent/sendmail run "no such sendmail" 127 duty@la.example

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
