#!/usr/bin/env bash
# Crash-safety of checkpoints: SIGKILLs the training program at random moments
# while it trains and saves a checkpoint after every (tiny) epoch, many times.
# After every kill the checkpoint must load completely (checkpoint-info) and
# the training program must resume from it. Kills that land while a save was
# in flight (its temporary file exists) are counted, to show the test really
# hits saves (half the kills wait for a save to start). Usage: kill_during_save.sh <bin-dir> [kills]
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
    until compgen -G "$work/.model.safetensors.tmp-*" >/dev/null || (( SECONDS > deadline )); do :; done
    for ((spin = RANDOM % 200; spin > 0; spin--)); do :; done
  else
    # Even kills land at a random moment between 0.3 s and 2.3 s.
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; sleep 0.3; sleep "$((RANDOM % 2))"
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if compgen -G "$work/.model.safetensors.tmp-*" >/dev/null; then
    mid_save=$((mid_save + 1))
    rm -f "$work"/.model.safetensors.tmp-*  # what a killed writer leaves behind: never the checkpoint itself
  fi
  if ! "$bin/checkpoint-info" "$ck" >/dev/null 2>"$work/err"; then
    echo "kill $i: checkpoint does not load: $(cat "$work/err")"
    exit 1
  fi
done
# The surviving checkpoint resumes training for one more epoch.
done_epochs=$("$bin/checkpoint-info" "$ck" | sed -n 's/^metadata epoch = //p')
"${train[@]}" --resume "$ck" --epochs $((done_epochs + 1)) >/dev/null 2>"$work/err" ||
  { echo "resume from the checkpoint of epoch $done_epochs failed: $(cat "$work/err")"; exit 1; }
echo "kills: $kills, of which during a save: $mid_save; the checkpoint loaded after every kill"
echo "kill test ok"
