#!/usr/bin/env bash
# One incident, from declaration to approved notices and a verifiable export, through the JSON API.
# Needs curl, jq and openssl, and a running Breachline with the demo map (`breachline demo`).
# TOKEN: a responder's API token, LEAD_TOKEN: a lead's, ADMIN_TOKEN: an admin's (`breachline tokens create`).
# INTAKE_SOURCE / INTAKE_SECRET: a source in BREACHLINE_INTAKE_SOURCES (the alert step is skipped without them).
# tests/api/test_readme_session.py runs this file against a served app and checks README.md shows it verbatim.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:5000}

# api TOKEN METHOD PATH [JSON body]: one call; a 4xx/5xx prints the problem+json and stops the script.
api() {
  local token=$1 method=$2 path=$3
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $token" \
    ${4:+-H 'Content-Type: application/json' -d "$4"} "$BASE/api/v1$path"
}

# The contract itself: OpenAPI 3.1 (human-readable at $BASE/api/docs).
curl -sS --fail "$BASE/api/v1/openapi.json" | jq -r '"\(.info.title) \(.info.version): \(.paths | length) paths"'

# The data map: filtered, paginated lists; one customer with its contract terms; versions; an export.
api "$TOKEN" GET '/controllers?jurisdiction=UK&per_page=3' | jq -c '{total, keys: [.items[].key]}'
api "$TOKEN" GET /systems/object-storage-eu | jq -c '{key, name}'
api "$TOKEN" GET /datamap/versions | jq -c '.items[0] | {id, controllers, systems, records}'
api "$TOKEN" GET '/datamap/export?format=csv' | awk 'END {print NR - 1 " processing records in the CSV export"}'
# Import is all or nothing (a 422 names file:line: field); the map just exported comes back unchanged.
api "$TOKEN" GET '/datamap/export?format=yaml' > map.yaml
curl -sS --fail-with-body -H "Authorization: Bearer $LEAD_TOKEN" -H 'Content-Type: application/yaml' \
  --data-binary @map.yaml "$BASE/api/v1/datamap/import?filename=map.yaml" | jq -c '{changed, controllers, records}'

# Declare: scope, impact, obligations, clocks and playbook tasks are derived at once.
DETECTED=$(date -u -d '-3 hours' +%FT%TZ)
AWARE=$(date -u -d '-2 hours' +%FT%TZ)
REF=$(api "$TOKEN" POST /incidents "{\"title\": \"Exposed storage bucket\",
  \"incident_type\": \"cloud-storage-misconfiguration\", \"breach_types\": [\"confidentiality\"],
  \"detected_at\": \"$DETECTED\", \"aware_at\": \"$AWARE\",
  \"scope\": {\"systems\": [\"object-storage-eu\"]}}" | jq -r .ref)
echo "declared $REF"
VERSION=$(api "$TOKEN" GET "/incidents/$REF" | jq .version)
api "$TOKEN" PATCH "/incidents/$REF" "{\"version\": $VERSION, \"severity\": \"high\"}" | jq -c '{ref, severity, version}'
api "$TOKEN" POST "/incidents/$REF/status" '{"status": "investigating"}' | jq -c '{ref, status}'
api "$TOKEN" GET "/incidents/$REF/impact" | jq -c '.totals | {controllers, est_subjects, special_categories}'
api "$TOKEN" GET "/incidents/$REF/obligations" | jq -c '.items[:3][] | {id, title, due_at}'

# The deadline calculator over any regime (the anchor carries its offset; a naive time is a 422).
api "$TOKEN" GET '/regimes/gdpr-art33/deadlines?anchor=2026-03-28T20:00%2B01:00&timezone=Europe/Berlin' \
  | jq -c '.stages[0] | {id, due_at, rule, source}'

# Assess (ENISA severity and the Art. 33/34 recommendation) from the facts the incident already has.
FACTS=$(api "$TOKEN" GET "/incidents/$REF/assessments/prefill" | jq -c .values)
api "$LEAD_TOKEN" POST "/incidents/$REF/assessments" "{\"inputs\": $FACTS, \"rationale\": \"\"}" \
  | jq -c '{seq, band: .result.band, decision}'

# Work the playbook: assign the first task and close it with what was done.
TASK=$(api "$TOKEN" GET "/incidents/$REF/tasks" | jq '.items[0].id')
api "$TOKEN" POST "/incidents/$REF/tasks/$TASK/assign" '{"assignee": "responder@breachline.example"}' >/dev/null
api "$TOKEN" POST "/incidents/$REF/tasks/$TASK/complete" '{"note": "Bucket policy reverted, access logs kept"}' \
  | jq -c '{id, status}'

# One notice per affected customer: draft, read, edit one, approve (a lead, not the drafter), follow delivery.
api "$TOKEN" POST "/incidents/$REF/notifications" '{}' | jq -c '{drafted: length}'
NOTICE=$(api "$TOKEN" GET "/incidents/$REF/notifications?status=draft&per_page=1" | jq '.items[0].id')
NOTICE_VERSION=$(api "$TOKEN" GET "/notifications/$NOTICE" | jq .version)
api "$TOKEN" PATCH "/notifications/$NOTICE" \
  "{\"version\": $NOTICE_VERSION, \"subject\": \"Security incident $REF affecting your data\"}" | jq -c '{id, version}'
api "$LEAD_TOKEN" POST "/notifications/$NOTICE/approve" '{}' | jq -c '{id, status}'
api "$LEAD_TOKEN" POST "/incidents/$REF/notifications/approve" '{"all_drafts": true}' | jq -c '{approved: (.approved | length)}'
api "$TOKEN" GET "/notifications/$NOTICE" | jq -c '{id, status, controller, attempts}'

# An obligation settled outside Breachline (after its deadline, reasons for the delay are required).
OBLIGATION=$(api "$TOKEN" GET "/incidents/$REF/obligations" | jq '[.items[] | select(.status == "open")][0].id')
api "$TOKEN" POST "/incidents/$REF/obligations/$OBLIGATION/met" "{\"met_at\": \"$(date -u +%FT%TZ)\"}" \
  | jq -c '{id, status}'

# The timeline: a manual entry, a filtered read, and an export that verifies offline.
api "$TOKEN" POST "/incidents/$REF/timeline" '{"summary": "Called the customer DPO hotline"}' | jq -c '{seq, kind, hash}'
api "$TOKEN" GET "/incidents/$REF/timeline?kind=notification.approved&per_page=3" | jq -c '{total, summaries: [.items[].summary]}'
api "$TOKEN" GET "/incidents/$REF/export?format=json" > "$REF.json"
echo "exported $(jq '.events | length' "$REF.json") events to $REF.json (breachline timeline verify --file $REF.json)"

# The breach register (Art. 33(5)) and, for admins, the audit log.
api "$TOKEN" GET /register | jq -c '{breaches: (.breaches | length)}'
api "$ADMIN_TOKEN" GET '/audit?per_page=3' | jq -c '[.items[].action]'

# A SIEM alert, signed with HMAC-SHA256 over "<timestamp>.<body>": a triage incident, or joined by dedup key.
if [[ -n "${INTAKE_SOURCE:-}" && -n "${INTAKE_SECRET:-}" ]]; then
  BODY="{\"title\": \"Mass download from storage\", \"incident_type\": \"web-app-exfiltration\",
    \"detected_at\": \"$(date -u +%FT%TZ)\", \"dedup_key\": \"siem-4711\", \"systems\": [\"object-storage-eu\"]}"
  NOW=$(date +%s)
  SIG=$(printf '%s.%s' "$NOW" "$BODY" | openssl dgst -sha256 -hmac "$INTAKE_SECRET" -hex | sed 's/^.* //')
  curl -sS --fail-with-body -H 'Content-Type: application/json' -H "X-Breachline-Source: $INTAKE_SOURCE" \
    -H "X-Breachline-Timestamp: $NOW" -H "X-Breachline-Signature: sha256=$SIG" -d "$BODY" \
    "$BASE/api/v1/intake/alerts" | jq -c '{ref, created}'
fi
