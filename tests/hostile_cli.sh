#!/usr/bin/env bash
# Hostile command lines (issue 18): the programs must refuse bad numbers and
# unusable output paths with a message naming the option, what it accepts and
# the value received, exit non-zero without a crash, and train nothing, and
# must stop with an error when a write fails mid-run. Before the fixes:
# --threads 100000 crashed in libgomp, --seed -1 silently became 2^64-1,
# --batch-size 2^63-1 printed "loss: -nan" and exited 0, and --metrics into a
# missing directory exited 0 having written nothing.
# The checks that train need Fashion-MNIST; without it they are skipped (the
# others still run) and the test reports "hostile cli skipped".
# Usage: hostile_cli.sh <bin-dir>
set -uo pipefail
bin=$1
data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train="$bin/train-fashion-mnist"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# refuse PROGRAM EXPECTED ARGS...: PROGRAM must exit non-zero (not by a
# signal), print EXPECTED on stderr and neither load data nor train an epoch.
refuse() {
  local prog=$1 expected=$2
  shift 2
  "$prog" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local what="$(basename "$prog") $*"
  if ((rc == 0)); then fail "$what: exit 0, expected a refusal"; return; fi
  if ((rc >= 128)); then fail "$what: killed by signal $((rc - 128))"; return; fi
  grep -qF -- "$expected" "$work/err" || fail "$what: stderr lacks '$expected': $(head -c 400 "$work/err")"
  if grep -qE '^(Epoch|Fashion-MNIST:|Resumed)' "$work/out"; then fail "$what: ran before refusing: $(head -3 "$work/out")"; fi
  echo "ok: $what -> exit $rc: $(head -1 "$work/err")"
}

# checkpoint-info: --help is help, not a file name; another dash is a usage error.
info="$bin/checkpoint-info"
if "$info" --help >"$work/out" 2>"$work/err" && grep -q '^usage: checkpoint-info' "$work/out"; then
  echo "ok: checkpoint-info --help -> usage on stdout, exit 0"
else
  fail "checkpoint-info --help: $(cat "$work/err")"
fi
refuse "$info" "usage: checkpoint-info FILE.safetensors" --frobnicate
refuse "$info" "it is a character device, not a regular file" /dev/zero

# Refused while parsing, before the data is read: no data set needed.
# The largest count is 4 x the cores the library sees; read it from the refusal.
max_threads=$("$train" --threads 0 2>&1 | sed -n 's/.*expected an integer in \[1, \([0-9]*\)\].*/\1/p')
[[ $max_threads =~ ^[0-9]+$ ]] || { fail "--threads 0: no range in the refusal"; max_threads=4; }
for t in 100000 0 -1 $((max_threads + 1)) 2147483648 1.5 abc; do
  refuse "$train" "Invalid value for argument \`--threads\`: expected an integer in [1, " --threads "$t"
  refuse "$train" "Received: --threads=$t" --threads "$t"
done
for s in -1 18446744073709551616 1e23 " 7" +7 0x10; do
  refuse "$train" "Invalid value for argument \`--seed\`: expected an integer in [0, 18446744073709551615]. Received: --seed=$s" --seed "$s"
done
for e in 99999999999999999999 0 -3 1000000001 2.5; do
  refuse "$train" "Invalid value for argument \`--epochs\`: expected an integer in [1, 1000000000]. Received: --epochs=$e" --epochs "$e"
done
for b in 0 -64 9223372036854775808 1e3; do
  refuse "$train" "Invalid value for argument \`--batch-size\`: expected an integer in [1, 9223372036854775807]. Received: --batch-size=$b" --batch-size "$b"
done
for l in 0 -2 60001 1e4; do
  refuse "$train" "Invalid value for argument \`--train-limit\`: expected -1 (all) or an integer in [1, 60000]. Received: --train-limit=$l" --train-limit "$l"
done
for l in 0 10001 x; do
  refuse "$train" "Invalid value for argument \`--test-limit\`: expected -1 (all) or an integer in [1, 10000]. Received: --test-limit=$l" --test-limit "$l"
done
# The equals form reaches the same parser.
refuse "$train" "Received: --seed=-1" --seed=-1
# Output paths, checked before the data is even loaded.
refuse "$train" "Cannot write --metrics '/missing/dir/m.jsonl': its directory '/missing/dir' does not exist (No such file or directory)" \
  --metrics /missing/dir/m.jsonl
refuse "$train" "Cannot write --checkpoint '/missing/dir/ck.safetensors': its directory '/missing/dir' does not exist" \
  --checkpoint /missing/dir/ck.safetensors
refuse "$train" "Cannot write --plot '/missing/dir/p.svg': its directory '/missing/dir' does not exist" --plot /missing/dir/p.svg
refuse "$train" "Cannot write --plot '$work': it is a directory, not a regular file" --plot "$work"
refuse "$train" "Cannot write --metrics '/dev/full': it is a character device, not a regular file" --metrics /dev/full
touch "$work/file"
refuse "$train" "Cannot write --checkpoint '$work/file/ck.safetensors': cannot examine '$work/file/ck.safetensors': Not a directory" --checkpoint "$work/file/ck.safetensors"
# The benchmarks share the parser (exit status 2: usage).
for t in 100000 0; do
  refuse "$bin/sepconv-bench" "Invalid value for argument \`--threads\`: expected an integer in [1, $max_threads]. Received: --threads=$t" --threads "$t"
  refuse "$bin/kernel-bench" "Invalid value for argument \`--threads\`: expected an integer in [1, $max_threads]. Received: --threads=$t" --threads "$t"
done
refuse "$bin/sepconv-bench" "Invalid value for argument \`--min-time\`: expected a finite number in [0, 3600]. Received: --min-time=inf" --min-time inf

if [[ ! -e "$data/train-images-idx3-ubyte.gz" && ! -e "$data/train-images-idx3-ubyte" ]]; then
  echo "Fashion-MNIST is not in $data (install the Debian package dataset-fashion-mnist): the training checks are skipped"
  if ((failures)); then echo "$failures failures"; exit 1; fi
  echo "hostile cli skipped"
  exit 0
fi

small=(--model reference --train-limit 64 --test-limit 100 --threads 1)

# A batch size past the data is one batch per epoch (as in Keras): it trains,
# with a finite loss, rather than overflowing into zero steps and a NaN.
if "$train" "${small[@]}" --epochs 1 --batch-size 9223372036854775807 --metrics "$work/big.jsonl" >"$work/out" 2>"$work/err"; then
  grep -q '"train_loss":[0-9]' "$work/big.jsonl" || fail "batch-size 2^63-1: no finite train_loss in $(cat "$work/big.jsonl")"
  grep -q '^Epoch 1/1' "$work/out" || fail "batch-size 2^63-1: no epoch ran: $(cat "$work/out")"
  if grep -qi 'nan' "$work/out" "$work/big.jsonl"; then fail "batch-size 2^63-1: NaN in the output"; fi
  echo "ok: --batch-size 9223372036854775807 trained one epoch: $(cat "$work/big.jsonl")"
else
  fail "batch-size 2^63-1 failed: $(cat "$work/err")"
fi

# A limit past the images a --data-dir holds is refused, not silently
# shortened: a directory of 50 training and 20 test images (uncompressed IDX).
mkdir "$work/few"
idx() {  # idx MAGIC COUNT_BYTE HEADER_REST ROW_BYTES SOURCE.gz DEST: the first COUNT rows of SOURCE
  local skip=$((8 + ${#3} / 4))
  { printf "$1\\x00\\x00\\x00$2$3"; gzip -dc "$5" | tail -c +$((skip + 1)) | head -c $(($(printf '%d' "0x${2:2}") * $4)); } >"$6"
}
dims='\x00\x00\x00\x1c\x00\x00\x00\x1c'
idx '\x00\x00\x08\x03' '\x32' "$dims" 784 "$data/train-images-idx3-ubyte.gz" "$work/few/train-images-idx3-ubyte"
idx '\x00\x00\x08\x01' '\x32' '' 1 "$data/train-labels-idx1-ubyte.gz" "$work/few/train-labels-idx1-ubyte"
idx '\x00\x00\x08\x03' '\x14' "$dims" 784 "$data/t10k-images-idx3-ubyte.gz" "$work/few/t10k-images-idx3-ubyte"
idx '\x00\x00\x08\x01' '\x14' '' 1 "$data/t10k-labels-idx1-ubyte.gz" "$work/few/t10k-labels-idx1-ubyte"
refuse "$train" "Invalid value for argument \`--train-limit\`: expected -1 (all) or an integer in [1, 50] (the images in $work/few). Received: --train-limit=51" \
  --data-dir "$work/few" --train-limit 51 --threads 1
refuse "$train" "Invalid value for argument \`--test-limit\`: expected -1 (all) or an integer in [1, 20] (the images in $work/few). Received: --test-limit=21" \
  --data-dir "$work/few" --test-limit 21 --threads 1
"$train" --data-dir "$work/few" --model reference --threads 1 --epochs 1 --quiet >"$work/out" 2>"$work/err" ||
  fail "training on the 50-image directory failed: $(cat "$work/err")"

# Resuming with --metrics into a missing directory: refused before the first epoch.
"$train" "${small[@]}" --epochs 1 --checkpoint "$work/r.safetensors" --quiet >/dev/null 2>"$work/err" ||
  fail "making the checkpoint to resume failed: $(cat "$work/err")"
refuse "$train" "Cannot write --metrics '/missing/dir/m.jsonl': its directory '/missing/dir' does not exist" \
  "${small[@]}" --resume "$work/r.safetensors" --epochs 2 --metrics /missing/dir/m.jsonl

# A full disk mid-run: a file-size limit makes the append to a metrics file
# already at the limit fail (EFBIG; SIGXFSZ ignored so the write returns the
# error). The run must stop with the path and the reason, exit non-zero.
head -c 1024 /dev/zero | tr '\0' ' ' >"$work/full.jsonl"
(
  trap '' XFSZ
  ulimit -f 1
  exec "$train" "${small[@]}" --resume "$work/r.safetensors" --epochs 2 --metrics "$work/full.jsonl"
) 2>&1 | cat >"$work/out"
rc=${PIPESTATUS[0]}
if ((rc == 0 || rc >= 128)); then
  fail "metrics on a full disk: exit $rc: $(tail -3 "$work/out")"
else
  grep -qF -- "Cannot append to --metrics '$work/full.jsonl': write failed: File too large" "$work/out" ||
    fail "metrics on a full disk: no clear error: $(tail -3 "$work/out")"
  if grep -q 'Final test accuracy' "$work/out"; then fail "metrics on a full disk: the run went on to the end"; fi
  echo "ok: metrics on a full disk -> exit $rc: $(grep -F -- '--metrics' "$work/out")"
fi

if ((failures)); then
  echo "$failures failures"
  exit 1
fi
echo "hostile cli ok"
