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
# Usage: hostile_cli.sh <bin-dir> [sanitized]
set -uo pipefail
bin=$1
sanitized=${2:-}
data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train="$bin/train-fashion-mnist"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# refuse PROGRAM EXPECTED ARGS...: PROGRAM must exit non-zero (not by a
# signal), print EXPECTED on stderr and neither load data nor train an epoch.
# resume_refuse: the same for a checkpoint refused by --resume, which is read
# after the data (the run's identity includes the images loaded) but before
# any epoch or the "Resumed" line.
resume_refuse() { ran_pattern='^(Epoch|Resumed)' refuse "$@"; }
refuse() {
  local prog=$1 expected=$2
  shift 2
  "$prog" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local what="$(basename "$prog") $*"
  if ((rc == 0)); then fail "$what: exit 0, expected a refusal"; return; fi
  if ((rc >= 128)); then fail "$what: killed by signal $((rc - 128))"; return; fi
  grep -qF -- "$expected" "$work/err" || fail "$what: stderr lacks '$expected': $(head -c 400 "$work/err")"
  if grep -qE "${ran_pattern:-^(Epoch|Fashion-MNIST:|Resumed)}" "$work/out"; then fail "$what: ran before refusing: $(head -3 "$work/out")"; fi
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
refuse "$train" "Cannot write --export-onnx '/missing/dir/m.onnx': its directory '/missing/dir' does not exist" \
  --export-onnx /missing/dir/m.onnx
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

# sepconv-conformance prints {"error": ...} and exits 0 for any failing case
# (its protocol); a weight too big is refused by the cap, not by std::bad_alloc,
# and running out of memory says so. conform NAME FILTERS EXPECTED [ulimit -v KiB]
conform() {
  local name=$1 filters=$2 expected=$3 vmem=${4:-unlimited}
  printf '{"format": "sepconv-case/1", "kind": "layer", "name": "%s", "layer": {"filters": %s, "kernel_size": [3, 3]},
    "tensors": {"input": {"shape": [1, 3, 3, 1], "data": [1, 2, 3, 4, 5, 6, 7, 8, 9]}}, "expected": {}}' \
    "$name" "$filters" >"$work/$name.json"
  (ulimit -v "$vmem"; exec "$bin/sepconv-conformance" "$work/$name.json") >"$work/out" 2>"$work/err"
  local rc=$?
  if ((rc != 0)); then fail "conformance $name: exit $rc: $(head -c 300 "$work/err")"; return; fi
  grep -qF -- "$expected" "$work/out" || fail "conformance $name: output lacks '$expected': $(head -c 400 "$work/out")"
  echo "ok: sepconv-conformance $name -> $(head -c 200 "$work/out")"
}
conform filters_2e40 1099511627776 \
  "Layer 'separable_conv2d' cannot create weight 'pointwise_kernel' of shape (1, 1, 1, 1099511627776): 1099511627776 elements, more than the 2147483648 (2^31) one weight may hold"
# 2^30 filters pass the cap; 8 GiB of float64 do not fit in 1.5 GiB of address space.
# AddressSanitizer reserves terabytes of shadow address space at start, so
# ulimit -v stops it before main, and its operator new aborts instead of
# throwing std::bad_alloc: the case is for the plain (Release) build only.
if [[ $sanitized == sanitized ]]; then
  echo "not run: conformance filters_2e30 (an AddressSanitizer build cannot run under ulimit -v; the Release suite runs it)"
else
  conform filters_2e30 1073741824 "\"error\":\"out of memory while running the case in '$work/filters_2e30.json' (std::bad_alloc)\"" 1500000
fi

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

# ---- Checkpoint metadata (item 11) and resuming another model's file (item 12)
# with_meta IN OUT SED: OUT is IN with SED applied to its safetensors header
# (the JSON after the 8-byte little-endian length), re-padded to 8 bytes.
with_meta() {
  local n m
  n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
  head -c $((8 + n)) "$1" | tail -c "$n" | sed -e "$3" >"$work/header"
  m=$(stat -c %s "$work/header")
  while ((m % 8)); do printf ' ' >>"$work/header"; m=$((m + 1)); done
  {
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(((m >> (8 * i)) & 255)))"; done
    cat "$work/header"
    tail -c +$((9 + n)) "$1"
  } >"$2"
}
r="$work/r.safetensors"
# the forgery itself is harmless: an unchanged header still resumes
with_meta "$r" "$work/same.st" 's/x/x/'
"$train" "${small[@]}" --resume "$work/same.st" --epochs 1 --quiet >/dev/null 2>"$work/err" ||
  fail "with_meta broke an unchanged checkpoint: $(cat "$work/err")"
long=$(printf '9%.0s' {1..300})
nest=$(printf '[%.0s' {1..200})
meta_case() {  # meta_case NAME SED EXPECTED [ARGS...]: resuming the forged file is refused with EXPECTED
  local name=$1 expr=$2 expected=$3
  shift 3
  with_meta "$r" "$work/$name.st" "$expr"
  resume_refuse "$train" "$expected" "${small[@]}" --epochs 2 --resume "$work/$name.st" "$@"
  if grep -q "$long" "$work/err"; then fail "$name: a 300-character value was quoted whole"; fi
}
meta_case epoch_1_9 's/"epoch":"1"/"epoch":"1.9"/' \
  "--resume: checkpoint '$work/epoch_1_9.st' has metadata epoch=\"1.9\", expected an integer in [0, 2]"
meta_case epoch_neg 's/"epoch":"1"/"epoch":"-1"/' "has metadata epoch=\"-1\", expected an integer in [0, 2]"
meta_case epoch_long "s/\"epoch\":\"1\"/\"epoch\":\"$long\"/" "has metadata epoch=\"9999999999"
meta_case epoch_99 's/"epoch":"1"/"epoch":"99"/' \
  "--resume: checkpoint '$work/epoch_99.st' was saved after epoch 99, past the end of this run (--epochs 2): resume it with --epochs 99 or more"
meta_case no_model 's/"model":"reference",//' \
  "--resume: checkpoint '$work/no_model.st' has no metadata key 'model': it was not written by train-fashion-mnist, whose checkpoints hold batch_size, model, seed, train_limit, epoch and history"
meta_case no_seed 's/"seed":"42",//' "checkpoint '$work/no_seed.st' has no metadata key 'seed': it was not written by train-fashion-mnist"
meta_case no_epoch 's/"epoch":"1",//' "checkpoint '$work/no_epoch.st' has no metadata key 'epoch'"
meta_case no_history 's/"history":"[^"]*",//' "checkpoint '$work/no_history.st' has no metadata key 'history'"
meta_case seed_long "s/\"seed\":\"42\"/\"seed\":\"$long\"/" \
  "--resume $work/seed_long.st: the checkpoint was written with seed=\"9999999999"
meta_case history_short 's/"history":"[^"]*"/"history":"[]"/' \
  "--resume: checkpoint '$work/history_short.st' metadata 'history' holds 0 records, but its metadata epoch=1 needs one per epoch"
meta_case history_entry 's/"history":"[^"]*"/"history":"[[1,2,3]]"/' \
  "--resume: checkpoint '$work/history_entry.st' metadata 'history' entry 0 must be [train_loss, train_accuracy, test_loss, test_accuracy] (4 numbers), received [1,2,3]"
meta_case history_text 's/"history":"[^"]*"/"history":"[[1,2,3,\\"x\\"]]"/' "metadata 'history' entry 0 must be"
meta_case history_json 's/"history":"[^"]*"/"history":"[[1,"/' "metadata 'history' is not valid JSON"
meta_case history_deep "s/\"history\":\"[^\"]*\"/\"history\":\"$nest\"/" \
  "metadata 'history' nests arrays or objects deeper than 128 levels"
# Another model's checkpoint: the models are named, before any tensor is compared.
resume_refuse "$train" "--resume: checkpoint '$r' holds model \"reference\", but this run trains model \"fast\" (resume it with --model reference)" \
  --model fast --train-limit 64 --test-limit 100 --threads 1 --resume "$r"
# A null in the history is the writer's NaN: accepted.
with_meta "$r" "$work/history_null.st" 's/"history":"\[\[[^,]*,/"history":"[[null,/'
"$train" "${small[@]}" --resume "$work/history_null.st" --epochs 1 --quiet >/dev/null 2>"$work/err" ||
  fail "a null (NaN) in the history was refused: $(cat "$work/err")"

# ---- Resuming rewrites the metrics to the checkpoint's epoch (item 9). A run
# killed after appending epoch 2 but before saving its checkpoint leaves
# records 1, 2 and the checkpoint of epoch 1: resuming to 3 must give 1, 2, 3.
"$train" "${small[@]}" --epochs 1 --checkpoint "$work/c1.st" --metrics "$work/m.jsonl" --quiet >/dev/null 2>"$work/err" &&
  "$train" "${small[@]}" --epochs 2 --resume "$work/c1.st" --metrics "$work/m.jsonl" --quiet >/dev/null 2>>"$work/err" &&
  "$train" "${small[@]}" --epochs 3 --resume "$work/c1.st" --metrics "$work/m.jsonl" --quiet >/dev/null 2>>"$work/err" ||
  fail "the metrics resume runs failed: $(cat "$work/err")"
epochs_seen=$(grep -o '"epoch":[0-9]*' "$work/m.jsonl" | cut -d: -f2 | tr '\n' ' ')
[[ $epochs_seen == "1 2 3 " ]] || fail "metrics after resuming epoch 1 to 3: epochs $epochs_seen, expected 1 2 3"
echo "ok: resuming epoch 1 with records 1, 2 in --metrics -> epochs $epochs_seen"
# A metrics file that is not ours is refused, naming the line, and left alone.
printf '{"epoch":1}\nnot json\n' >"$work/bad.jsonl"
cp "$work/bad.jsonl" "$work/bad.orig"
resume_refuse "$train" "--metrics '$work/bad.jsonl' line 2 is not valid JSON" "${small[@]}" --epochs 2 --resume "$r" --metrics "$work/bad.jsonl"
cmp -s "$work/bad.jsonl" "$work/bad.orig" || fail "the refused metrics file was changed"
printf '{"epoch":1}\n{"step":2}\n' >"$work/bad.jsonl"
resume_refuse "$train" "--metrics '$work/bad.jsonl' line 2 is not a record of train-fashion-mnist (an object with an integer \"epoch\" of at least 1), received {\"step\":2}" \
  "${small[@]}" --epochs 2 --resume "$r" --metrics "$work/bad.jsonl"

# A full disk mid-run: a file-size limit makes the append to a metrics file
# already at the limit fail (EFBIG; SIGXFSZ ignored so the write returns the
# error). The run must stop with the path and the reason, exit non-zero.
# One record of epoch 1 (resuming the epoch-1 checkpoint keeps it), padded to the limit.
{ printf '{"epoch":1,"pad":"'; head -c 1005 /dev/zero | tr '\0' ' '; printf '"}\n'; } >"$work/full.jsonl"
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
