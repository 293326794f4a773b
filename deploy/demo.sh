#!/bin/sh
# The demo: a whole ChildFirst network on this machine, from nothing to a
# signed determination and a verified audit log. It installs what is missing,
# builds, makes keys, an authority and a signed directory in a scratch folder,
# starts a broker and seven agencies' agents on 127.0.0.1, sends the example
# referral through the police spool folder, shows it decrypted at the local
# authority and the duty team's notice, takes the case through the
# conference to a sealed determination (the Home Office liaison gets only its
# NRM return), verifies the log, and stops everything it started.
#   sh deploy/demo.sh            scratch folder under /tmp, removed at the end
#   sh deploy/demo.sh --keep     keep the scratch folder to look around
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
keep=no
[ "${1:-}" = "--keep" ] && keep=yes

say() { printf '\n== %s\n' "$*"; }

say "1. Install what is missing and build"
sh deploy/install-deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_TEST_HOOKS=OFF >/dev/null
cmake --build build-demo -j "$(nproc 2>/dev/null || echo 2)" --target childfirst childfirst-broker childfirst-agent >/dev/null
bin=$top/build-demo/bin
cf=$bin/childfirst

net=$(mktemp -d /tmp/childfirst-demo.XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = yes ]; then echo "scratch folder kept: $net"; else rm -rf "$net"; fi
}
trap cleanup EXIT INT TERM

say "2. Keys, an authority and a signed directory in $net"
cd "$net"
authority_key=$($cf keygen authority --out authority.key | sed -n 's/^authority_key = //p')
$cf keygen broker --out broker.key > broker.pub
broker_sign=$(sed -n 's/^sign_key = //p' broker.pub)
broker_curve=$(sed -n 's/^curve_key = //p' broker.pub)
# id, roles, areas: a police force, the LA's children's services and duty
# team, a guardian service and an auditor (Westminster is E09000033).
agencies="police-met:first_responder police:E09000033
la-e09000033-csc:children_services:E09000033
la-e09000033-duty:duty_team:E09000033
health-nwl:health:E09000033
guardian-ictg:guardian:E09000033
home-office-liaison:home_office:
auditor-ncs:auditor:"
: > agencies.ini
echo "$agencies" | while IFS=: read -r id roles areas; do
  $cf keygen "$id" --out "$id.key" >> agencies.ini
  {
    echo "name = Demo agency $id"
    echo "roles = $roles"
    echo "jurisdiction = england-wales"
    [ -n "$areas" ] && echo "areas = $areas"
    echo
  } >> agencies.ini
done
cp "$top/deploy/policy.ini" policy.ini
$cf directory sign --key authority.key --serial 1 agencies.ini policy.ini

say "3. Start the broker and the agents on 127.0.0.1"
cat > broker.ini <<EOF
[broker]
endpoint = tcp://127.0.0.1:*
state_dir = $net/broker
key_file = $net/broker.key
authority_key = $authority_key
directory = $net/agencies.ini
policy = $net/policy.ini
calendars = $top/deploy/calendars
origin = demo.childfirst/log
map_size_mb = 64
min_free_mb = 0
EOF
$bin/childfirst-broker -c broker.ini 2> broker.log &
pids="$pids $!"
i=0
until [ -s broker/broker.endpoint ]; do
  i=$((i + 1)); [ $i -gt 200 ] && { cat broker.log; exit 1; }
  sleep 0.05
done
endpoint=$(cat broker/broker.endpoint)
echo "broker listening on $endpoint"
echo "$agencies" | while IFS=: read -r id roles areas; do
  mkdir -p "$id"
  cat > "$id/agent.ini" <<EOF
[agent]
id = $id
key_file = $net/$id.key
broker = $endpoint
broker_sign_key = $broker_sign
broker_curve_key = $broker_curve
authority_key = $authority_key
state_dir = $net/$id/state
spool_dir = $net/$id/spool
control = $net/$id/agent.sock
spool_scan_ms = 100
EOF
done
for id in police-met la-e09000033-csc la-e09000033-duty health-nwl guardian-ictg \
  home-office-liaison auditor-ncs; do
  $bin/childfirst-agent -c "$id/agent.ini" 2> "$id/agent.log" &
  pids="$pids $!"
done

wait_for() { # FILE-GLOB SECONDS
  i=0
  while ! ls $1 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt $(($2 * 20)) ] && { echo "timed out waiting for $1"; exit 1; }
    sleep 0.05
  done
}

say "4. The police force drops deploy/examples/referral.json into its spool"
cp "$top/deploy/examples/referral.json" police-met/spool/.referral.json.tmp 2>/dev/null ||
  { mkdir -p police-met/spool/outbox; cp "$top/deploy/examples/referral.json" police-met/spool/.referral.json.tmp; }
mkdir -p police-met/spool/outbox
mv police-met/spool/.referral.json.tmp police-met/spool/outbox/referral.json
wait_for "police-met/spool/sent/referral.json.receipt.json" 20
echo "receipt (police-met/spool/sent/referral.json.receipt.json):"
cat police-met/spool/sent/referral.json.receipt.json; echo

say "5. The local authority's inbox, decrypted, and the duty team's notice"
wait_for "la-e09000033-csc/spool/inbox/cf-*/*-referral.json" 20
export CHILDFIRST_CONFIG="$net/la-e09000033-csc/agent.ini"
$cf inbox
id=$($cf inbox --json | sed -n 's/.*"message_id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
$cf show "$id"
wait_for "la-e09000033-duty/spool/inbox/cf-*/*-notice.json" 20
echo
echo "duty team notice ($(ls la-e09000033-duty/spool/inbox/cf-*/*-notice.json)):"
cat la-e09000033-duty/spool/inbox/cf-*/*-notice.json; echo
unset CHILDFIRST_CONFIG

say "6. The conference decides: acknowledgement, strategy discussion, conference, votes"
case_id=$(basename "$(dirname "$(ls la-e09000033-csc/spool/inbox/cf-*/*-referral.json)")")
ex="$top/deploy/examples"
send() { # AGENCY TYPE FILE: send a case message and show the broker's answer
  printf '%s sends %s: ' "$1" "$2"
  $cf send "$2" --case "$case_id" "$3" -c "$net/$1/agent.ini" | sed -n 's/.*"status": *"\(.*\)".*/\1/p'
}
send la-e09000033-csc acknowledgement "$ex/acknowledgement.json"
send la-e09000033-csc strategy_record "$ex/strategy_record.json"
send la-e09000033-csc conference_convened "$ex/conference_convened.json"
wait_for "police-met/spool/inbox/$case_id/*-conference_convened.json" 20
send police-met contribution "$ex/contribution.json"
send la-e09000033-csc determination_proposed "$ex/determination_proposed.json"
for voter in la-e09000033-csc police-met health-nwl; do
  wait_for "$voter/spool/inbox/$case_id/*-determination_proposed.json" 20
  proposal=$(sed -n 's/^ *"message_id": *"\([0-9a-f]*\)".*/\1/p' \
    "$voter"/spool/inbox/"$case_id"/*-determination_proposed.json | head -1)
  sed "s/\"proposal_id\": *\"[0-9a-f]*\"/\"proposal_id\": \"$proposal\"/" "$ex/vote.json" > "$voter/vote.json"
  send "$voter" vote "$voter/vote.json"
done

say "7. The sealed determination: every voting agency signed it, the broker countersigned it"
wait_for "la-e09000033-duty/spool/inbox/$case_id/*-determination.json" 20
echo "at the duty team (a final reader: the whole decision, the child's views included):"
sed -n '/"decision"\|"voter"\|"vote"\|"child_participated"\|"outcome"/p' \
  la-e09000033-duty/spool/inbox/"$case_id"/*-determination.json
wait_for "home-office-liaison/spool/inbox/$case_id/*-determination.json" 20
echo
echo "at the Home Office liaison (informed, not deciding: the NRM return alone):"
sed -n '/"nrm_return"/,/}/p' home-office-liaison/spool/inbox/"$case_id"/*-determination.json
echo
echo "the LA's view of the case (childfirst case):"
$cf case "$case_id" -c "$net/la-e09000033-csc/agent.ini"

say "8. The duty team's notices: new referral, conference, determination"
$cf inbox --case "$case_id" -c "$net/la-e09000033-duty/agent.ini"

say "9. The auditor keeps its own replica; the police prove their receipt in today's log"
$cf audit follow -c "$net/auditor-ncs/agent.ini" --once
$cf receipt police-met/spool/sent/referral.json.receipt.json -c "$net/police-met/agent.ini" \
  > police-met/receipt-later.json
$cf audit prove police-met/receipt-later.json --broker-key "$broker_sign"

say "10. Stop everything, then verify and replay the log from the broker key alone"
for p in $pids; do kill "$p"; done
for p in $pids; do wait "$p" || true; done
pids=""
$cf audit verify "$net/broker" --broker-key "$broker_sign"
echo
echo "the auditor's replica, checked the same way:"
$cf audit verify "$net/auditor-ncs/state" --broker-key "$broker_sign"
echo
echo "the case, rebuilt from the log alone (childfirst audit replay):"
$cf audit replay "$net/broker" --case "$case_id" --calendars "$top/deploy/calendars" \
  --broker-key "$broker_sign"
echo
echo "the compliance report (childfirst audit report):"
$cf audit report "$net/broker" --calendars "$top/deploy/calendars" --broker-key "$broker_sign"

say "11. Done: every process this demo started has stopped"
