#!/usr/bin/env python3
"""The PyTorch peer (shared/bench/torch_sepconv.py) on NCHW tensors only.

The peer script reports, per shape, the faster of PyTorch's two layouts
(contiguous NCHW and channels_last). Our layer in channels_first takes NCHW
input, so its fair peer is PyTorch's contiguous layout alone: this wrapper
imports the peer's own shapes and timing loop and runs only that layout,
printing the peer's JSON lines ("peer" names the layout).

usage: scripts/torch-sepconv-nchw.py PEER_SCRIPT THREADS SHAPE [SHAPE ...]
"""
import importlib.util
import json
import sys

import torch


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    spec = importlib.util.spec_from_file_location("torch_sepconv", sys.argv[1])
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    for name in sys.argv[3:]:
        t_fwd, t_train = peer.run(name, "contiguous")
        for mode, ms in (("forward", t_fwd), ("train", t_train)):
            print(json.dumps({"shape": name, "mode": mode, "ms": round(ms, 3),
                              "peer": "pytorch-" + torch.__version__ + " NCHW", "threads": threads}), flush=True)


if __name__ == "__main__":
    main()
