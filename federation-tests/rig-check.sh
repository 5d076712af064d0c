#!/usr/bin/env bash
# By hand, not in CI: what real GoToSocial, Mitra and Lemmy servers do with
# a working group on this node. Needs the rig in ../shared/peers running
# (build.sh, start.sh, mk-users.sh) and this node started on it as hc.test
# with a fresh data directory:
#   PEERS_HC_BIN=$PWD/target/debug/healthcommons HEALTHCOMMONS_AUTH_RATE_LIMIT_PER_MINUTE=0 \
#     ../shared/peers/start.sh hc
# Prints what each server shows; FEDERATION.md ("Checked on real servers")
# records what it printed, and on which versions.
set -euo pipefail
: "${PEERS_HOME:=$HOME/peers}"
# shellcheck disable=SC1091
. "$PEERS_HOME/tokens.env"
HC=http://hc.test
J=(-H 'content-type: application/json')
MH=(-H "Authorization: Bearer $MITRA_ALICE_TOKEN" "${J[@]}")
GH=(-H "Authorization: Bearer $GTS_ALICE_TOKEN" "${J[@]}")
LH=(-H "Authorization: Bearer $LEMMY_ALICE_JWT" "${J[@]}")
run=$RANDOM
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
settle() { sleep 12; }

curl -s -X POST $HC/api/v1/accounts "${J[@]}" -d "{\"username\":\"ana$run\",\"password\":\"walking-together\"}" >/dev/null
ANA=$(curl -s -X POST $HC/api/v1/auth/token "${J[@]}" -d "{\"username\":\"ana$run\",\"password\":\"walking-together\"}" | jq -r .token)
A=(-H "authorization: Bearer $ANA" "${J[@]}")
group=walkers$run
curl -s -X POST $HC/api/v1/groups "${A[@]}" -d "{\"name\":\"$group\",\"display_name\":\"Saturday walkers\"}" >/dev/null
# Threads written before anyone on Lemmy knows the group.
early=$(curl -s -X POST $HC/api/v1/posts "${A[@]}" -d "{\"group\":\"$group\",\"title\":\"Early thread\",\"content\":\"Written **before**.\"}" | jq -r .id)
curl -s -X POST $HC/api/v1/posts "${A[@]}" -d "{\"in_reply_to\":\"$early\",\"content\":\"A reply\"}" >/dev/null

echo "== follow $group@hc.test from Mitra and GoToSocial"
mid=$(curl -s "${MH[@]}" "$MITRA_URL/api/v2/search?q=$group@hc.test" | jq -r '.accounts[0].id')
gid=$(curl -s "${GH[@]}" "$GTS_URL/api/v2/search?q=@$group@hc.test&resolve=true&type=accounts" | jq -r '.accounts[0].id')
curl -s -X POST "${MH[@]}" "$MITRA_URL/api/v1/accounts/$mid/follow" -d '{}' >/dev/null
curl -s -X POST "${GH[@]}" "$GTS_URL/api/v1/accounts/$gid/follow" -d '{}' >/dev/null
settle
curl -s -g "${MH[@]}" "$MITRA_URL/api/v1/accounts/relationships?id[]=$mid" | jq -c '{mitra: .[0].following}'
curl -s -g "${GH[@]}" "$GTS_URL/api/v1/accounts/relationships?id[]=$gid" | jq -c '{gotosocial: .[0].following}'

echo "== Lemmy finds the group late and follows it"
lid=$(curl -s "${LH[@]}" "$LEMMY_URL/api/v3/resolve_object?q=$group@hc.test" | jq -r '.community.community.id')
curl -s -X POST "${LH[@]}" "$LEMMY_URL/api/v3/community/follow" -d "{\"community_id\":$lid,\"follow\":true}" >/dev/null
settle
curl -s "${LH[@]}" "$LEMMY_URL/api/v3/post/list?community_id=$lid&sort=New" | jq -c '{lemmy_posts: [.posts[].post.name]}'

# The status a Mastodon-API server made of one of our objects.
status_of() { # url token id
  curl -s -H "Authorization: Bearer $2" "$1/api/v1/timelines/home?limit=20" \
    | jq -r --arg u "$3" '[.[] | (.reblog // .) | select(.uri == $u)][0].id'
}
show() { # id what
  for server in "$MITRA_URL|$MITRA_ALICE_TOKEN" "$GTS_URL|$GTS_ALICE_TOKEN"; do
    url=${server%%|*} token=${server##*|}
    sid=$(status_of "$url" "$token" "$1")
    curl -s -o /tmp/rig-status.json -w '%{http_code}' -H "Authorization: Bearer $token" "$url/api/v1/statuses/$sid" \
      | xargs -I{} echo "$url $2: HTTP {}"
    jq -c '{cw: .spoiler_text, content, edited_at, poll: (.poll.options // null)}' /tmp/rig-status.json 2>/dev/null || true
  done
}

echo "== a thread, then its edit, then its deletion"
thread=$(curl -s -X POST $HC/api/v1/posts "${A[@]}" -d "{\"group\":\"$group\",\"title\":\"Route for Sunday\",\"content\":\"Along the **river**.\"}" | jq -r .id)
settle; show "$thread" "new thread"
declare -A ids
for server in "$MITRA_URL|$MITRA_ALICE_TOKEN" "$GTS_URL|$GTS_ALICE_TOKEN"; do
  ids[${server%%|*}]=$(status_of "${server%%|*}" "${server##*|}" "$thread")
done
curl -s -X PATCH "$HC/api/v1/posts/$(enc "$thread")" "${A[@]}" -d '{"content":"Along the river, then the canal."}' >/dev/null
settle; show "$thread" "edited thread"
curl -s -X DELETE "$HC/api/v1/posts/$(enc "$thread")" "${A[@]}" >/dev/null
settle
curl -s -o /dev/null -w "mitra deleted thread: HTTP %{http_code}\n" -H "Authorization: Bearer $MITRA_ALICE_TOKEN" "$MITRA_URL/api/v1/statuses/${ids[$MITRA_URL]}"
curl -s -o /dev/null -w "gotosocial deleted thread: HTTP %{http_code}\n" -H "Authorization: Bearer $GTS_ALICE_TOKEN" "$GTS_URL/api/v1/statuses/${ids[$GTS_URL]}"

echo "== an event, its new time, a question, a garden item"
event=$(curl -s -X POST $HC/api/v1/events "${A[@]}" -d "{\"kind\":\"workshop\",\"group\":\"$group\",\"title\":\"Walk leader training\",\"description\":\"Learn to lead a **health walk**.\",\"starts_at\":\"2031-01-11T10:00:00Z\",\"ends_at\":\"2031-01-11T12:00:00Z\",\"timezone\":\"Europe/London\",\"place\":{\"name\":\"Community centre\",\"address\":\"1 High Street, Bristol\"}}")
settle; show "$(echo "$event" | jq -r .ap_id)" "event"
curl -s -X PUT "$HC/api/v1/events/$(echo "$event" | jq -r .id)" "${A[@]}" -d "{\"kind\":\"workshop\",\"group\":\"$group\",\"title\":\"Walk leader training\",\"description\":\"Learn to lead a **health walk**.\",\"starts_at\":\"2031-01-11T14:00:00Z\",\"ends_at\":\"2031-01-11T16:00:00Z\",\"timezone\":\"Europe/London\",\"place\":{\"name\":\"Library\",\"address\":\"2 Park Road, Bristol\"}}" >/dev/null
settle; show "$(echo "$event" | jq -r .ap_id)" "event moved"
question=$(curl -s -X POST "$HC/api/v1/groups/$group/agenda" "${A[@]}" -d '{"question":"Which day suits you?","options":["Saturday","Sunday"]}' | jq -r .ap_id)
item=$(curl -s -X POST $HC/api/v1/garden "${A[@]}" -d "{\"kind\":\"story\",\"group\":\"$group\",\"title\":\"The Monday walk\",\"summary\":\"Forty people walk weekly now.\",\"fields\":{\"narrative\":\"We started in May.\"}}" | jq -r .id)
settle; show "$question" "question"; show "$item" "garden item"
curl -s "${LH[@]}" "$LEMMY_URL/api/v3/post/list?community_id=$lid&sort=New&limit=1" | jq -c '{lemmy_newest: [.posts[].post | {name, body}]}'

echo "== a Lemmy user's post removed by our moderator"
lpost=$(curl -s -X POST "${LH[@]}" "$LEMMY_URL/api/v3/post" -d "{\"name\":\"Cheap shoes\",\"body\":\"spam\",\"community_id\":$lid}" | jq -r '.post_view.post | "\(.id) \(.ap_id)"')
settle
curl -s -X DELETE "$HC/api/v1/posts/$(enc "${lpost##* }")" "${A[@]}" -o /dev/null -w "removed here: HTTP %{http_code}\n"
settle
curl -s "${LH[@]}" "$LEMMY_URL/api/v3/post?id=${lpost%% *}" | jq -c '.post_view.post | {lemmy_removed: .removed, lemmy_deleted: .deleted}'

echo "== a member here follows !peerlab@lemmy.test and comments on a Lemmy post"
curl -s -X POST $HC/api/v1/follows "${A[@]}" -d '{"target":"!peerlab@lemmy.test"}' | jq -c '{follow: .state}'
settle
pl=$(curl -s "${LH[@]}" "$LEMMY_URL/api/v3/community?name=peerlab" | jq -r .community_view.community.id)
lq=$(curl -s -X POST "${LH[@]}" "$LEMMY_URL/api/v3/post" -d "{\"name\":\"Where do you walk? $run\",\"body\":\"Tell us\",\"community_id\":$pl}" | jq -r '.post_view.post | "\(.id) \(.ap_id)"')
settle
curl -s -X POST $HC/api/v1/posts "${A[@]}" -d "{\"in_reply_to\":\"${lq##* }\",\"content\":\"By the river $run\"}" >/dev/null
settle
curl -s "${LH[@]}" "$LEMMY_URL/api/v3/comment/list?post_id=${lq%% *}" | jq -c '{lemmy_comments: [.comments[].comment.content]}'
