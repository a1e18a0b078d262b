"""Times the official SRU++ (sru==3.0.0.dev6, PyTorch, CPU) on one configuration and prints one
JSON object: LM training and inference tokens/s, bare recurrence forward and forward+backward
elements/s, and the machine's copy bandwidth and sgemm rate measured by torch in the same run.

The LM is train_enwik8.py's Model (Embedding -> SRUpp -> Linear), dropout 0, attention in every
layer, RAdam with decoupled weight decay; the recurrent state and attention memory are carried
between steps as in training. Inference uses the evaluation (same_length) mask under no_grad.

    python official.py --d 512 --proj 128 --layers 4 --unroll 256 --batch 4
"""
import argparse
import json
import os
import statistics
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
import sru  # noqa: E402
from sru.ops import elementwise_recurrence_inference, elementwise_recurrence_naive  # noqa: E402


class Model(nn.Module):
    def __init__(self, V, d, proj, layers):
        super().__init__()
        self.embedding_layer = nn.Embedding(V, d)
        self.rnn = sru.SRUpp(d, d, proj, num_layers=layers, highway_bias=-2.0, dropout=0.0,
                             attn_dropout=0.0, num_heads=1, layer_norm=False,
                             attn_layer_norm=True, attention_every_n_layers=1)
        self.output_layer = nn.Linear(d, V)

    def forward(self, x, y, hidden, memory, attn_mask):
        emb = self.embedding_layer(x)
        out, hidden, md = self.rnn(emb, hidden, memory=memory, attn_mask=attn_mask)
        logits = self.output_layer(out)
        loss = F.cross_entropy(logits.view(-1, logits.size(2)), y.reshape(-1))
        return loss, hidden, md["saved_inputs"]


def mask(mem_len, L, M, same_length):
    m = torch.triu(torch.ones(2 * M, 2 * M), 1)
    if same_length:
        m = m + torch.tril(torch.ones(2 * M, 2 * M), -1 - M)
    return (m * -10000.0)[mem_len:mem_len + L, :mem_len + L]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_time(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    for k, v in [("d", 512), ("proj", 128), ("layers", 4), ("unroll", 256), ("batch", 4),
                 ("vocab", 256), ("warmup", 2), ("iters", 5)]:
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--lm-only", action="store_true", help="skip the recurrence and ceilings")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(1234)
    L, B, d = a.unroll, a.batch, a.d
    x = torch.randint(0, a.vocab, (L, B), device=dev)
    y = torch.randint(0, a.vocab, (L, B), device=dev)
    out = {"d": d, "proj": a.proj, "layers": a.layers, "unroll": L, "batch": B,
           "torch": torch.__version__, "threads": torch.get_num_threads()}

    model = Model(a.vocab, d, a.proj, a.layers).to(dev)
    out["params"] = sum(p.numel() for p in model.parameters())
    opt = torch.optim.RAdam(model.parameters(), lr=3e-4, weight_decay=0.1,
                            decoupled_weight_decay=True)
    state = {"h": torch.zeros(a.layers, B, d, device=dev), "m": [None] * a.layers}

    def train_step():
        mem_len = 0 if state["m"][0] is None else state["m"][0].size(0)
        loss, h, m = model(x, y, state["h"], state["m"], mask(mem_len, L, L, False).to(dev))
        opt.zero_grad()
        loss.backward()
        # As train_enwik8.py:302 clips every update (and as sru-rs's training step does).
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["h"], state["m"] = h.detach(), [t.detach() for t in m]

    model.train()
    t = median_time(train_step, a.warmup, a.iters)
    out["train_step_ms"] = t * 1e3
    out["train_tokens_per_s"] = L * B / t

    model.eval()
    state = {"h": torch.zeros(a.layers, B, d, device=dev), "m": [None] * a.layers}

    def infer_step():
        with torch.no_grad():
            mem_len = 0 if state["m"][0] is None else state["m"][0].size(0)
            _, h, m = model(x, y, state["h"], state["m"], mask(mem_len, L, L, True).to(dev))
            state["h"], state["m"] = h, m

    t = median_time(infer_step, a.warmup, a.iters)
    out["infer_step_ms"] = t * 1e3
    out["infer_tokens_per_s"] = L * B / t
    if a.lm_only:
        print(json.dumps(out))
        return

    # The bare recurrence (k = 3, skip term): the C++ CPU forward, and the Python loop with
    # autograd that the official code trains with on the CPU.
    U = torch.randn(L, B, d * 3)
    xr = torch.randn(L, B, d)
    wc = torch.randn(2 * d) * 0.1
    bias = torch.zeros(2 * d)
    c0 = torch.zeros(B, d)

    def rec_fwd():
        with torch.no_grad():
            elementwise_recurrence_inference(U, xr, wc, bias, c0, 0, d, False, True)

    t = median_time(rec_fwd, 1, a.iters)
    out["recurrence_forward_elements_per_s"] = L * B * d / t
    Ug, xg = U.clone().requires_grad_(), xr.clone().requires_grad_()

    def rec_fb():
        h = elementwise_recurrence_naive(Ug, xg, wc, bias, c0, 0, d, False, True)[0]
        h.sum().backward()

    t = median_time(rec_fb, 1, max(1, a.iters // 2))
    out["recurrence_fwd_bwd_elements_per_s"] = L * B * d / t

    # Ceilings of this machine, as torch sees them.
    n = 1 << 26
    src, dst = torch.randn(n), torch.empty(n)
    t = median_time(lambda: dst.copy_(src), 1, 5)
    out["copy_gb_per_s"] = 2 * 4 * n / t / 1e9  # bytes read + written
    m = torch.randn(2048, 2048)
    t = median_time(lambda: m @ m, 1, 5)
    out["sgemm_gflops"] = 2 * 2048 ** 3 / t / 1e9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
