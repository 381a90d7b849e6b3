# The command-line walkthrough of tests/integration/test_cli.py: users, memory, recommendations
# and pairings over curl, in four parts separated by '---' lines (then the tenant's key).
# Run from the served instance's folder (it reads var/admin_token); BASE is the API's address.
set -euo pipefail
BASE=${BASE:?set BASE to the served API}
ADMIN="Authorization: Bearer $(cat var/admin_token)"
JSON="Content-Type: application/json"

# An admin creates a tenant (a client app) and issues it an API key. The key is shown once.
TENANT=$(curl -sf -X POST "$BASE/v1/admin/tenants" -H "$ADMIN" -H "$JSON" -d '{"name": "my-app"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
KEY=$(curl -sf -X POST "$BASE/v1/admin/tenants/$TENANT/keys" -H "$ADMIN" -H "$JSON" -d '{"name": "dev"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
AUTH="Authorization: Bearer $KEY"

# The app manages its users by its own ids.
curl -sf -w '\n' -X POST "$BASE/v1/users" -H "$AUTH" -H "$JSON" -d '{"id": "alice", "metadata": {"locale": "en"}}'
curl -sf -w '\n' -X PATCH "$BASE/v1/users/alice" -H "$AUTH" -H "$JSON" -d '{"metadata": {"plan": "pro"}}'
curl -sf -w '\n' "$BASE/v1/users?limit=10" -H "$AUTH"
curl -sf -w '\n' "$BASE/v1/users/alice/export" -H "$AUTH"

# Deleting a user removes everything stored about them.
curl -sf -X DELETE "$BASE/v1/users/alice" -H "$AUTH" -o /dev/null -w '%{http_code}\n'
curl -s -w '\n' "$BASE/v1/users/alice" -H "$AUTH"
echo ---
U="$BASE/v1/users/alice"
curl -sf -w '\n' -X POST "$U/partners" -H "$AUTH" -H "$JSON" -d '{"id": "bob", "name": "Bob"}'
curl -sf -w '\n' -X POST "$U/sessions" -H "$AUTH" -H "$JSON" \
  -d '{"id": "s1", "partners": ["bob"], "started_at": "2024-03-02T18:00:00Z"}'
curl -sf -w '\n' -X POST "$U/sessions/s1/turns" -H "$AUTH" -H "$JSON" -d '{"turns": [
  {"id": "t1", "speaker": "bob", "text": "I moved to Lisbon last month for a new job."},
  {"id": "t2", "speaker": "user", "text": "Congrats! I started learning Portuguese yesterday."}]}'
curl -sf -w '\n' -X POST "$U/memories/search" -H "$AUTH" -H "$JSON" -d '{"query": "Where does Bob live?", "k": 3}'
echo ---
curl -sf -w '\n' -X POST "$BASE/v1/items" -H "$AUTH" -H "$JSON" -d '[
  {"id": "tent", "title": "Two-person dome tent", "attributes": {"category": "camping"}},
  {"id": "bag", "title": "Down sleeping bag", "attributes": {"category": "camping"}},
  {"id": "stove", "title": "Compact camping stove", "attributes": {"category": "camping"}},
  {"id": "kettle", "title": "Enamel tea kettle", "attributes": {"category": "kitchen"}}]'
curl -sf -w '\n' -X POST "$BASE/v1/interactions" -H "$AUTH" -H "Content-Type: application/x-ndjson" --data-binary '
{"user": "carol", "item": "tent", "type": "view", "at": "2026-05-01T10:00:00Z", "id": "c1"}
{"user": "carol", "item": "bag", "type": "purchase", "at": "2026-05-01T10:05:00Z", "id": "c2"}
{"user": "carol", "item": "stove", "type": "add_to_cart", "at": "2026-05-01T10:09:00Z", "id": "c3"}
{"user": "dave", "item": "tent", "type": "purchase", "at": "2026-05-02T09:00:00Z", "id": "d1"}
{"user": "dave", "item": "bag", "type": "rating", "value": 5, "at": "2026-05-02T09:30:00Z", "id": "d2"}
{"user": "erin", "item": "kettle", "type": "dislike", "at": "2026-05-03T08:00:00Z", "id": "e1"}
{"user": "erin", "item": "tent", "type": "click", "at": "2026-05-03T08:01:00Z", "id": "e2"}'
curl -sf -w '\n' "$BASE/v1/users/erin/recommendations?k=3" -H "$AUTH"
curl -sf -w '\n' -X POST "$BASE/v1/recommendations/next" -H "$AUTH" -H "$JSON" -d '{"items": ["tent"], "k": 2}'
echo ---
curl -sf -w '\n' -X POST "$BASE/v1/ingredients" -H "$AUTH" -H "$JSON" -d '[
  {"name": "tomato", "category": "vegetable", "compounds": ["hexanal", "linalool", "eugenol"]},
  {"name": "basil", "category": "herb", "compounds": ["linalool", "eugenol", "estragole"]},
  {"name": "garlic", "category": "vegetable", "compounds": ["allicin", "hexanal"]},
  {"name": "olive oil", "category": "plant derivative", "compounds": ["hexanal", "squalene"]},
  {"name": "vanilla", "category": "spice", "compounds": ["vanillin"]},
  {"name": "sugar", "category": "plant derivative", "compounds": ["furaneol"]},
  {"name": "butter", "category": "dairy", "compounds": ["diacetyl", "furaneol"]}]'
curl -sf -w '\n' -X POST "$BASE/v1/recipes" -H "$AUTH" -H "$JSON" -d '[
  {"id": "r1", "ingredients": ["Tomatoes", "basil", "garlic", "olive_oil"], "cuisine": "Italian"},
  {"id": "r2", "ingredients": ["tomato", "garlic", "olive oil"], "cuisine": "Italian"},
  {"id": "r3", "ingredients": ["tomato", "basil", "olive oil"], "cuisine": "Italian"},
  {"id": "r4", "ingredients": ["butter", "sugar", "vanilla"], "cuisine": "French"},
  {"id": "r5", "ingredients": ["butter", "sugar"], "cuisine": "French"},
  {"id": "r6", "ingredients": ["vanilla", "sugar"], "cuisine": "French", "user": "carol"}]'
curl -sf -w '\n' -X PUT "$BASE/v1/users/carol/food-preferences" -H "$AUTH" -H "$JSON" \
  -d '{"dislikes": ["basil"], "allergies": []}'
echo ---
echo "$KEY"
