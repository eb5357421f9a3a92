#!/usr/bin/env bash
# test-terraform.sh applies and destroys a Terraform configuration with Okta's own provider
# (okta/oktapam, unchanged) against opaserver:
#
#   scripts/test-terraform.sh [DIR]
#
# DIR (default testdata/terraform) holds the *.tf files; testdata/terraform is issue 17's aim, an
# AD setup as a team writes it (resource group, project, AD connection with server and user sync
# jobs, UD checkout settings, a service user, security policies) plus the data sources that read it
# back; testdata/terraform/beyond the provider's other resources around it (sudo command bundles,
# server checkout and password settings, gateway setup tokens, AD certificates, enrollment tokens).
# Every configuration declares a number variable "revision" (1, 2, 3). The fixture is
# DIR/fixture.json if present, else testdata/terraform/fixture.json.
#
#   1. terraform: $OPA_TERRAFORM if set, else `go install github.com/hashicorp/terraform@v1.5.7`
#      (the last MPL release) through the Go module proxy into the cache directory, once;
#   2. the provider: $OPA_TF_PROVIDER (a terraform-provider-oktapam binary) if set, else
#      `go install github.com/okta/terraform-provider-oktapam@v0.7.1` into the cache directory,
#      once; Terraform runs it through dev_overrides in a CLI configuration of its own
#      (TF_CLI_CONFIG_FILE), so no registry is asked;
#   3. builds opaserver and starts it on a free loopback port with the fixture
#      (a team and the admin service key the provider signs in with);
#   4. `terraform apply`, then `terraform plan -detailed-exitcode`, which must find nothing to change
#      (every resource reads back as it was written); the same for revisions 2 and 3 of the
#      configuration (-var revision=N: settings changed in place, the update routes); then
#      `terraform destroy`, then checks over the API that what the configuration created is gone
#      (service users soft deleted);
#   5. when the apply fails: each resource and data source applied on its own (`-target`), so the
#      summary says which apply and which do not, with the server's answer; revisions 2 and 3 of
#      those that applied; the requests opaserver answered with a 4xx or 5xx (its /_fake/requests
#      log); then the state is destroyed. Exit 1.
# A component that cannot be installed is a failure, never a skip (CI=true or not).
#
# The cache directory is $OPA_TF_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/opa-terraform.
# OPA_TF_KEEP=1 keeps the work directory (state, logs) and says where; OPA_TF_DEBUG=1 adds the
# provider's debug log (terraform-debug.log) to it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

config="${1:-testdata/terraform}"
[ -n "$(ls "$config"/*.tf 2>/dev/null)" ] || { echo "test-terraform.sh: no *.tf in $config" >&2; exit 1; }
fixture=testdata/terraform/fixture.json
[ -f "$config/fixture.json" ] && fixture="$config/fixture.json"

TF_VERSION=1.5.7
PROVIDER_VERSION=0.7.1
cache="${OPA_TF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opa-terraform}"

log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "test-terraform.sh: $*" >&2; exit 1; }

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
command -v python3 >/dev/null || die "python3 is needed to read opaserver's request log"

# 1. terraform
tf="${OPA_TERRAFORM:-$cache/terraform-$TF_VERSION/terraform}"
if [ ! -x "$tf" ]; then
	[ -z "${OPA_TERRAFORM:-}" ] || die "OPA_TERRAFORM=$OPA_TERRAFORM is not an executable"
	log "go install github.com/hashicorp/terraform@v$TF_VERSION (once, into $cache)"
	GOBIN="$cache/terraform-$TF_VERSION" GOFLAGS=-mod=mod go install "github.com/hashicorp/terraform@v$TF_VERSION" ||
		die "terraform v$TF_VERSION could not be installed through the Go module proxy"
fi

# 2. the provider
work="$(mktemp -d)"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	if [ "${OPA_TF_KEEP:-}" = 1 ]; then echo "test-terraform.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

provider="${OPA_TF_PROVIDER:-$cache/oktapam-$PROVIDER_VERSION/terraform-provider-oktapam}"
if [ ! -x "$provider" ]; then
	[ -z "${OPA_TF_PROVIDER:-}" ] || die "OPA_TF_PROVIDER=$OPA_TF_PROVIDER is not an executable"
	log "go install github.com/okta/terraform-provider-oktapam@v$PROVIDER_VERSION (once, into $cache)"
	GOBIN="$cache/oktapam-$PROVIDER_VERSION" GOFLAGS=-mod=mod go install "github.com/okta/terraform-provider-oktapam@v$PROVIDER_VERSION" ||
		die "Okta's provider v$PROVIDER_VERSION could not be installed through the Go module proxy; set OPA_TF_PROVIDER to a terraform-provider-oktapam binary built from its release (unchanged)"
fi
mkdir -p "$work/provider"
ln -s "$(cd "$(dirname "$provider")" && pwd)/$(basename "$provider")" "$work/provider/terraform-provider-oktapam"
cat >"$work/terraformrc" <<EOF
provider_installation {
  dev_overrides {
    "okta/oktapam" = "$work/provider"
  }
  direct {}
}
EOF

# 3. opaserver
log "build and start opaserver with $fixture"
go build -o "$work/opaserver" ./cmd/opaserver
"$work/opaserver" -addr 127.0.0.1:0 -fixtures "$fixture" >"$work/opaserver.log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 1 100); do
	base="$(sed -n 's/^base URL: *//p' "$work/opaserver.log")"
	[ -n "$base" ] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/opaserver.log" >&2; die "opaserver exited"; }
	sleep 0.1
done
[ -n "$base" ] || { cat "$work/opaserver.log" >&2; die "opaserver printed no base URL"; }
team="$(sed -n 's/^team: *//p' "$work/opaserver.log")"
key_id="$(sed -n 's/^key id: *//p' "$work/opaserver.log")"
key_secret="$(sed -n 's/^key secret: *//p' "$work/opaserver.log")"
[ -n "$team" ] && [ -n "$key_id" ] && [ -n "$key_secret" ] || die "opaserver's banner names no team or key"

export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
"$tf" version >/dev/null || die "$tf does not run"
"$tf" fmt -check -diff "$config" >&2 || die "$config is not in terraform fmt's canonical form"
if [ "${OPA_TF_DEBUG:-}" = 1 ]; then
	# The provider's debug log shows the requests it sends, the fixture's test credentials among them.
	export TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$work/terraform-debug.log"
fi
export OKTAPAM_API_HOST="$base" OKTAPAM_TEAM="$team" OKTAPAM_KEY="$key_id" OKTAPAM_SECRET="$key_secret"
export OKTAPAM_TRUSTED_DOMAIN_OVERRIDE=127.0.0.1 # the provider talks only to Okta's domains otherwise
mkdir -p "$work/config"
cp "$config"/*.tf "$work/config/"
cd "$work/config"
tfc() { "$tf" "$@" -no-color -input=false; }

# The requests opaserver refused or failed, from its request log: method, path and status, once each.
refused_requests() {
	curl -s "$base/_fake/requests" | python3 -c '
import json, sys
seen = set()
for r in json.load(sys.stdin)["list"]:
    if r["status"] < 400:
        continue
    key = (r["method"], r["path"], r["status"])
    if key in seen:
        continue
    seen.add(key)
    print("  %s %s -> %d" % key)
'
}

token() {
	curl -sf -X POST "$base/v1/teams/$team/service_token" -H 'Content-Type: application/json' \
		-d "{\"key_id\":\"$key_id\",\"key_secret\":\"$key_secret\"}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["bearer_token"])'
}

# A plan right after an apply must find nothing to change: the server read every resource back
# as it was written.
nochange() {
	log "terraform plan, revision $1: every resource reads back unchanged"
	local rc=0
	tfc plan -detailed-exitcode -var revision="$1" >"$work/plan-$1.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$work/plan-$1.log" >&2
		die "terraform plan after applying revision $1 exited $rc (2: the server reads back something other than what was applied)"
	fi
}

# 4. apply, plan (no changes), update twice, destroy
# Every resource and data source of the configuration, as -target addresses.
resources=$(cat ./*.tf | grep -o '^\(resource\|data\) "[a-z0-9_]*" "[a-z0-9_]*"' | tr -d '"' |
	awk '$1 == "data" {print "data." $2 "." $3; next} {print $2 "." $3}')
log "terraform apply ($(echo "$resources" | wc -l) resources and data sources against $base, team $team)"
if tfc apply -auto-approve >"$work/apply.log" 2>&1; then
	grep -E '^Apply complete' "$work/apply.log"
	nochange 1
	for rev in 2 3; do
		log "terraform apply, revision $rev (updates in place)"
		tfc apply -auto-approve -var revision=$rev >"$work/apply-$rev.log" 2>&1 ||
			{ sed -n '/^Error/,$p' "$work/apply-$rev.log" >&2; refused_requests; die "revision $rev does not apply"; }
		grep -E '^Apply complete' "$work/apply-$rev.log"
		grep -q "Resources: 0 added, [0-9]* changed, 0 destroyed" "$work/apply-$rev.log" ||
			die "revision $rev should change resources in place and replace none"
		nochange "$rev"
	done
	log "terraform destroy"
	tfc destroy -auto-approve -var revision=3 >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log" >&2; die "terraform destroy failed"; }
	grep -E '^Destroy complete' "$work/destroy.log"
	[ -z "$("$tf" state list)" ] || die "state not empty after destroy"

	log "after destroy: what the configuration created is gone"
	bearer="$(token)"
	api() { curl -sf "$base/v1/teams/$team/$1" -H "Authorization: Bearer $bearer"; }
	api groups | python3 -c 'import json,sys; l=[g["name"] for g in json.load(sys.stdin)["list"] if g["name"].startswith("tf-")]; sys.exit("groups left: %s" % l if l else 0)'
	api resource_groups | python3 -c 'import json,sys; l=[g["name"] for g in json.load(sys.stdin)["list"] if not g.get("deleted_at")]; sys.exit("resource groups left: %s" % l if l else 0)'
	api security_policy | python3 -c 'import json,sys; l=[p["name"] for p in json.load(sys.stdin)["list"]]; sys.exit("policies left: %s" % l if l else 0)'
	api connections/active_directory | python3 -c 'import json,sys; l=[c["name"] for c in json.load(sys.stdin)["list"] if c.get("status")!="DELETED" and not c.get("deleted_at")]; sys.exit("AD connections left: %s" % l if l else 0)'
	api service_users | python3 -c 'import json,sys; l=[u["name"] for u in json.load(sys.stdin)["list"] if u["name"]=="tf-deployer" and u["status"]!="DELETED"]; sys.exit("service user not deleted: %s" % l if l else 0)'
	log "requests opaserver answered with a 4xx or 5xx, which the provider took in its stride"
	refused_requests
	echo "terraform: $(echo "$resources" | wc -l) passed, 0 failed"
	exit 0
fi

# 5. the apply failed: which resources apply on their own, and what the server answered
sed -n '/^Error/,$p' "$work/apply.log" >&2
log "terraform apply failed; each resource on its own (-target)"
passed=0
failed=0
summary=""
for r in $resources; do
	if tfc apply -auto-approve -target="$r" >"$work/apply-$r.log" 2>&1; then
		passed=$((passed + 1))
		summary+="  ok    $r"$'\n'
	else
		failed=$((failed + 1))
		# The first diagnostic: its summary and detail, without Terraform's "with … on …" lines.
		why="$(awk '/^Error/ {n++} n == 1 && !/^  (with|on) / && !/^ *[0-9]+: / && NF' "$work/apply-$r.log" |
			head -8 | tr '\n' ' ' | sed 's/  */ /g')"
		summary+="  FAIL  $r: $why"$'\n'
	fi
done
log "resources and data sources of $config applied one at a time"
printf '%s' "$summary"
state="$("$tf" state list | sed 's/^/-target=/')"
if [ -n "$state" ]; then
	log "revisions 2 and 3 of what applied (updates in place), each followed by a plan"
	for rev in 2 3; do
		# shellcheck disable=SC2086 # one -target= per word
		if ! tfc apply -auto-approve -var revision=$rev $state >"$work/apply-$rev.log" 2>&1; then
			failed=$((failed + 1))
			echo "  FAIL  revision $rev: $(grep -m1 -A1 '^Error' "$work/apply-$rev.log" | tr '\n' ' ' | sed 's/  */ /g')"
			continue
		fi
		rc=0
		# shellcheck disable=SC2086
		tfc plan -detailed-exitcode -var revision=$rev $state >"$work/plan-$rev.log" 2>&1 || rc=$?
		if [ "$rc" = 0 ]; then
			echo "  ok    revision $rev: $(grep -m1 '^Apply complete' "$work/apply-$rev.log"), then no changes"
		else
			failed=$((failed + 1))
			echo "  FAIL  revision $rev: the plan after it exits $rc: $(grep -E '^  # ' "$work/plan-$rev.log" | tr '\n' ' ')"
		fi
	done
fi
log "requests opaserver refused (4xx/5xx)"
refused_requests
log "destroy what applied"
state="$("$tf" state list | sed 's/^/-target=/')"
if [ -n "$state" ]; then
	# shellcheck disable=SC2086 # one -target= per word
	tfc destroy -auto-approve -refresh=false -var revision=3 $state >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log" >&2; echo "destroy failed too" >&2; }
	grep -E '^Destroy complete' "$work/destroy.log" || true
fi
echo "terraform: $passed passed, $failed failed"
exit 1
