#!/usr/bin/env bash
# Crash-safety of checkpoints: SIGKILLs the training program at random moments
# while it trains and saves a checkpoint after every (tiny) epoch, many times.
# After every kill the checkpoint must load completely (checkpoint-info) and
# the training program must resume from it. Kills that land while a save was
# in flight (its temporary file exists) are counted, to show the test really
# hits saves (half the kills wait for a save to start). The temporaries the
# kills leave must be gone after the next successful save, and a run killed
# during a save and resumed must leave each epoch once in its metrics file.
# Usage: kill_during_save.sh <bin-dir> [kills]
set -euo pipefail
bin=$1
kills=${SEPCONV_KILLS:-${2:-40}}  # SEPCONV_KILLS overrides (the sanitizer run uses fewer)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ck="$work/model.safetensors"
train=("$bin/train-fashion-mnist" --model reference --train-limit 64 --batch-size 32 --threads 1 --quiet
       --checkpoint "$ck")

# A first complete checkpoint to protect.
"${train[@]}" --epochs 1 >/dev/null
"$bin/checkpoint-info" "$ck" >/dev/null

mid_save=0
RANDOM=7  # reproducible kill times
for i in $(seq 1 "$kills"); do
  "${train[@]}" --epochs 100000 >/dev/null 2>&1 &
  pid=$!
  if (( i % 2 )); then
    # Odd kills aim at a save: wait until its temporary file appears, then
    # kill after 0 to ~2 ms, somewhere among open, write, fsync and rename.
    deadline=$((SECONDS + 30))
    until compgen -G "$work/.model.safetensors.tmp-$pid-*" >/dev/null || (( SECONDS > deadline )); do :; done
    for ((spin = RANDOM % 200; spin > 0; spin--)); do :; done
  else
    # Even kills land at a random moment between 0.3 s and 2.3 s.
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; sleep 0.3; sleep "$((RANDOM % 2))"
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # What a killed writer leaves behind (never the checkpoint itself): left
  # for the next save to remove.
  if compgen -G "$work/.model.safetensors.tmp-$pid-*" >/dev/null; then mid_save=$((mid_save + 1)); fi
  if ! "$bin/checkpoint-info" "$ck" >/dev/null 2>"$work/err"; then
    echo "kill $i: checkpoint does not load: $(cat "$work/err")"
    exit 1
  fi
done
# The surviving checkpoint resumes training for one more epoch; its save
# removes every temporary the killed writers left.
left=$(compgen -G "$work/.model.safetensors.tmp-*" | wc -l || true)  # compgen fails when none match
done_epochs=$("$bin/checkpoint-info" "$ck" | sed -n 's/^metadata epoch = //p')
"${train[@]}" --resume "$ck" --epochs $((done_epochs + 1)) >/dev/null 2>"$work/err" ||
  { echo "resume from the checkpoint of epoch $done_epochs failed: $(cat "$work/err")"; exit 1; }
if compgen -G "$work/.model.safetensors.tmp-*" >/dev/null; then
  echo "temporaries left after a successful save: $(cd "$work" && ls -a | grep tmp)"
  exit 1
fi
echo "kills: $kills, of which during a save: $mid_save; the checkpoint loaded after every kill;" \
  "$left temporaries left by the kills, none after the next save"

# A kill during a later save (after its epoch's metrics record was appended)
# and a resume: every epoch once in the metrics, 1 .. the last one.
ck2="$work/m.safetensors" metrics="$work/m.jsonl"
run2=("$bin/train-fashion-mnist" --model reference --train-limit 64 --batch-size 32 --threads 1 --quiet
      --checkpoint "$ck2" --metrics "$metrics")
"${run2[@]}" --epochs 100000 >/dev/null 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
until [[ -e $ck2 ]] || (( SECONDS > deadline )); do sleep 0.01; done  # past the first save
until compgen -G "$work/.m.safetensors.tmp-$pid-*" >/dev/null || (( SECONDS > deadline )); do :; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[[ -e $ck2 ]] || { echo "the metrics run saved no checkpoint in 60 s"; exit 1; }
e=$("$bin/checkpoint-info" "$ck2" | sed -n 's/^metadata epoch = //p')
records=$(grep -c . "$metrics" || true)
"${run2[@]}" --resume "$ck2" --epochs $((e + 1)) >/dev/null 2>"$work/err" ||
  { echo "resume of the metrics run failed: $(cat "$work/err")"; exit 1; }
seen=$(grep -o '"epoch":[0-9]*' "$metrics" | cut -d: -f2 | tr '\n' ' ' || true)
want=$(seq 1 $((e + 1)) | tr '\n' ' ')
[[ $seen == "$want" ]] || { echo "metrics after the kill at epoch $e ($records records) and the resume: $seen, expected $want"; exit 1; }
if compgen -G "$work/.m.safetensors.tmp-*" >/dev/null; then echo "the killed save's temporary is still there"; exit 1; fi
echo "killed during the save after epoch $e with $records metrics records; resumed: epochs ${seen% }"
echo "kill test ok"
