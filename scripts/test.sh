#!/usr/bin/env bash
# The test command of cardmod (README and CI run it):
#
#   ./scripts/test.sh [go test flags, e.g. -run TestX -count=1]
#
# CARDMOD_TEST_PKGS (default ./...) limits the packages tested.
#
# 1. As root, installs what is missing (Debian packages for PC/SC, pcscd,
#    vpcd and the reference tools; staticcheck at a pinned version).
# 2. Static checks: gofmt, go vet, staticcheck, CGO_ENABLED=0 go build.
# 3. Starts a private pcscd with vpcd readers in its own mount and network
#    namespace (it does not touch a pcscd already running on the machine),
#    and runs there, with CARDMOD_PCSCD=1 so the tests that need pcscd run
#    instead of skipping:
#    a. `go test -race ./...` in every module. -race needs cgo, but the
#       PC/SC client of the root module is the pure-Go one (no libpcsclite);
#    b. `CGO_ENABLED=0 go test` of the root module's pcscd-backed packages
#       (those whose tests use scrm/pcsc/pcscdtest, and scrm/pcsc/...):
#       static binaries, as users build them;
#    c. `go test -race -tags cardmod_scard ./scrm/pcsc`: the same PC/SC
#       suite with github.com/ebfe/scard over libpcsclite (cgo), the
#       comparison client.
#    The interop module links piv-go, which needs ebfe/scard and cgo.
# 4. Stops what it started. Exits non-zero on any failure, and when the
#    tests left files in the tree that git neither tracks nor ignores.
#
# CARDMOD_TEST_RACE=0 drops -race from a and c, CARDMOD_TEST_EXTRA=0 skips b
# and c (both for benchmarks: scripts/bench-pcsc.sh).
#
# Without root it runs the static checks and the tests without pcscd (those
# tests then skip, saying why).
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
VPCD_READERS=4 # vpcd readers in the private pcscd; each has two slots
VPCD_BASE_PORT=35963
APT_PACKAGES=(libpcsclite-dev pkg-config pcscd vsmartcard-vpcd opensc yubico-piv-tool pcsc-tools openssh-client openssh-server pinentry-tty)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# The Go modules of the repository: the root one and any nested one (each
# is built and tested on its own; ./... stops at a nested go.mod).
list_modules() {
	{ git ls-files -co --exclude-standard 'go.mod' '*/go.mod' 2>/dev/null || find . -name go.mod -not -path './.git/*'; } |
		xargs -r -n1 dirname | sed 's|^\./||' | sort -u
}

# pcscd_packages prints those of the packages $@ (of the root module) whose
# tests need pcscd: they use scrm/pcsc/pcscdtest, or they are scrm/pcsc/...
# (pcscdtest itself among them).
pcscd_packages() {
	go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' "$@" |
		awk '$1 ~ /\/scrm\/pcsc($|\/)/ || / github.com\/cardmod\/cardmod\/scrm\/pcsc\/pcscdtest( |$)/ { print $1 }'
}

# Runs go test in every module (only the root one, with the packages of
# CARDMOD_TEST_PKGS, when that is set), then the CGO_ENABLED=0 run of the
# pcscd-backed packages and the ebfe/scard run of scrm/pcsc (see the
# header). Returns non-zero if any failed.
run_tests() {
	local status=0 mod race=-race pkgs=./... static
	[[ "${CARDMOD_TEST_RACE:-1}" == 0 ]] && race=
	if [[ -n "${CARDMOD_TEST_PKGS:-}" ]]; then
		pkgs=$CARDMOD_TEST_PKGS
		log "go test $race ${*:+$* }$pkgs"
		# shellcheck disable=SC2086 # a list of package patterns
		go test $race "$@" $pkgs || status=$?
	else
		while read -r mod; do
			log "go test $race ${*:+$* }./... (module ${mod})"
			(cd "$mod" && go test $race "$@" ./...) || status=$?
		done < <(list_modules)
	fi
	# shellcheck disable=SC2086
	mapfile -t static < <(pcscd_packages $pkgs)
	if [[ "${CARDMOD_TEST_EXTRA:-1}" == 1 ]] && ((${#static[@]})); then
		log "CGO_ENABLED=0 go test ${*:+$* }(${#static[@]} pcscd-backed packages)"
		CGO_ENABLED=0 go test "$@" "${static[@]}" || status=$?
		if printf '%s\n' "${static[@]}" | grep -qx 'github.com/cardmod/cardmod/scrm/pcsc'; then
			log "go test $race -tags cardmod_scard ${*:+$* }./scrm/pcsc (ebfe/scard over libpcsclite)"
			go test $race -tags cardmod_scard "$@" ./scrm/pcsc || status=$?
		fi
	fi
	return "$status"
}

# ---------------------------------------------------------------------------
# Inside the private namespaces: start pcscd, run the tests, stop pcscd.
# ---------------------------------------------------------------------------
if [[ "${CARDMOD_TEST_IN_NS:-}" == 1 ]]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/cardmod-pcscd.XXXXXX")
	mkdir -p "$work/run" "$work/conf" "$work/locks"
	pcscd_pid=
	keep_log=0
	cleanup() {
		if [[ -n "$pcscd_pid" ]] && kill -0 "$pcscd_pid" 2>/dev/null; then
			kill "$pcscd_pid" 2>/dev/null || true
			wait "$pcscd_pid" 2>/dev/null || true
		fi
		umount /run/pcscd 2>/dev/null || true
		if [[ "$keep_log" == 1 ]]; then
			log "pcscd log kept in $work/pcscd.log"
		else
			rm -rf "$work"
		fi
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	ip link set lo up
	mkdir -p /run/pcscd
	mount --bind "$work/run" /run/pcscd

	# Several vpcd readers (two slots each) so that test binaries running
	# in parallel do not queue for two slots. vpcd 3.3 keeps its state per
	# loaded copy of the driver, so two reader entries sharing one LIBPATH
	# clash (the first reader's slots never accept their card): each entry
	# gets its own copy of the driver file.
	mkdir -p "$work/drivers"
	readers=()
	for ((i = 0; i < VPCD_READERS; i++)); do
		port=$((VPCD_BASE_PORT + 2 * i))
		name="Virtual PCD"
		((i > 0)) && name="Virtual PCD $port"
		cp /usr/lib/pcsc/drivers/serial/libifdvpcd.so "$work/drivers/libifdvpcd-$i.so"
		cat >"$work/conf/vpcd-$i" <<-EOF
			FRIENDLYNAME "$name"
			DEVICENAME /dev/null:$port
			LIBPATH $work/drivers/libifdvpcd-$i.so
			CHANNELID $port
		EOF
		readers+=("$port=$name 00 00" "$((port + 1))=$name 00 01")
	done

	log "starting a private pcscd ($((2 * VPCD_READERS)) vpcd slots)"
	pcscd -f -d -a -c "$work/conf" >"$work/pcscd.log" 2>&1 &
	pcscd_pid=$!
	export PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm
	for ((i = 0; i < 200; i++)); do
		[[ -S "$PCSCLITE_CSOCK_NAME" ]] && opensc-tool -l 2>/dev/null | grep -q "Virtual PCD $((VPCD_BASE_PORT + 2 * (VPCD_READERS - 1)))" && break
		kill -0 "$pcscd_pid" 2>/dev/null || { tail -n 50 "$work/pcscd.log" >&2; die "pcscd exited"; }
		sleep 0.05
	done
	[[ -S "$PCSCLITE_CSOCK_NAME" ]] || { keep_log=1; die "pcscd did not create its socket"; }

	export CARDMOD_PCSCD=1
	export CARDMOD_VPCD_HOST=127.0.0.1
	export CARDMOD_VPCD_READERS
	CARDMOD_VPCD_READERS=$(IFS=';'; echo "${readers[*]}")
	export CARDMOD_PCSCD_LOCKDIR="$work/locks"
	export GOPROXY=off # no network in here; modules were downloaded outside

	status=0
	run_tests "$@" || status=$?
	if [[ "$status" != 0 ]]; then
		keep_log=1
		log "tests failed; last lines of the pcscd log:"
		tail -n 40 "$work/pcscd.log" >&2 || true
	fi
	exit "$status"
fi

# ---------------------------------------------------------------------------
# Outside: installs and static checks, then the tests in the namespaces.
# ---------------------------------------------------------------------------
is_root=0
[[ "$(id -u)" == 0 ]] && is_root=1

missing=()
command -v pkg-config >/dev/null && pkg-config --exists libpcsclite 2>/dev/null || missing+=(libpcsclite-dev pkg-config)
command -v pcscd >/dev/null || missing+=(pcscd)
[[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ]] || missing+=(vsmartcard-vpcd)
command -v opensc-tool >/dev/null || missing+=(opensc)
command -v yubico-piv-tool >/dev/null || missing+=(yubico-piv-tool)
command -v pcsc_scan >/dev/null || missing+=(pcsc-tools)
command -v ssh-add >/dev/null || missing+=(openssh-client)
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
command -v pinentry-tty >/dev/null || missing+=(pinentry-tty)
command -v gcc >/dev/null || missing+=(gcc)
command -v ip >/dev/null || missing+=(iproute2)
command -v unshare >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
	if ((is_root)); then
		log "installing Debian packages (missing: ${missing[*]})"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" gcc libc6-dev iproute2 util-linux </dev/null
	else
		die "missing ${missing[*]}: run as root, or: sudo apt-get install ${APT_PACKAGES[*]}"
	fi
fi

GOBIN_DIR=$(go env GOPATH)/bin
export PATH="$GOBIN_DIR:$PATH"
if ! command -v staticcheck >/dev/null; then
	log "installing staticcheck $STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

mapfile -t modules < <(list_modules)
for mod in "${modules[@]}"; do
	log "go mod download (module $mod)"
	(cd "$mod" && go mod download)
done

log "gofmt"
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
[[ -z "$unformatted" ]] || { printf 'not gofmt-ed:\n%s\n' "$unformatted" >&2; exit 1; }

for mod in "${modules[@]}"; do
	log "go vet ./... (module $mod)"
	(cd "$mod" && go vet ./...)
	log "staticcheck ./... (module $mod)"
	(cd "$mod" && staticcheck ./...)
	log "CGO_ENABLED=0 go build ./... (module $mod)"
	(cd "$mod" && CGO_ENABLED=0 go build ./...)
done
log "go vet, staticcheck -tags cardmod_scard ./scrm/pcsc/... (the ebfe/scard client)"
go vet -tags cardmod_scard ./scrm/pcsc/...
staticcheck -tags cardmod_scard ./scrm/pcsc/...
# The README's first command needs only Go: the quickstart's default build
# (cgo on or off) must not link ebfe/scard, whose cgo needs pkg-config and
# libpcsclite-dev.
for cgo in 0 1; do
	if CGO_ENABLED=$cgo go list -deps ./examples/quickstart | grep -q '^github.com/ebfe/scard$'; then
		die "examples/quickstart links github.com/ebfe/scard with CGO_ENABLED=$cgo"
	fi
done

# A test writes only under its own temporary directories: the files in the
# tree that git does not track, before and after the tests, must be the
# same (a test once left a cache directory named after the PIN).
untracked() { git ls-files -o --exclude-standard 2>/dev/null | sort; }
before=$(untracked)
status=0
if ((is_root)); then
	# A private mount and network namespace: pcscd's socket directory is our
	# own, and vpcd's listeners (they bind 0.0.0.0) stay on a loopback that
	# nothing else shares.
	CARDMOD_TEST_IN_NS=1 unshare --mount --net --propagation private bash "$0" "$@" || status=$?
else
	log "not root: no private pcscd; the tests that need it will skip"
	run_tests "$@" || status=$?
fi
left=$(comm -13 <(printf '%s\n' "$before") <(untracked) | sed '/^$/d')
if [[ -n "$left" ]]; then
	printf 'the tests left files in the tree:\n%s\n' "$left" >&2
	((status)) || status=1
fi
exit "$status"
