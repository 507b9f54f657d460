"""Two gloo processes (spawned) against one process with the same global batch through accumulation."""

import os
import socket
import sys
import traceback

import torch
import torch.multiprocessing as mp

from lib.config.local import LocalSettings
from lib.models import build_stark
from lib.train.distributed import DistContext, cleanup_distributed, derive_seed, init_distributed, seed_everything
from lib.train.errors import NonFiniteLossError
from lib.train.objectives import build_objective
from lib.train.optim import build_optimizer, build_scheduler, freeze_for_objective
from lib.train.run import build_train_loader
from lib.train.trainer import Trainer, TrainerOptions
from tests.train.conftest import tiny_config

# dropout 0: the two set-ups draw dropout masks from different per-rank streams
OPTS = ["model.transformer.dropout=0.0", "data.train.sample_per_epoch=8", "train.val_epoch_interval=0", "train.epoch=2"]


def _build(cfg, settings, ctx, nan_at=None):
    seed_everything(derive_seed(cfg.train.seed))
    model = build_stark(cfg)
    criterion = build_objective(cfg)
    frozen = freeze_for_objective(criterion, model, cfg)
    optimizer = build_optimizer(cfg, model)
    if nan_at is not None:
        inner, calls = criterion, [0]

        class NanOnThisRank(type(inner)):
            def __call__(self, outputs, batch):  # NaN on this rank only, at the nan_at-th call
                loss, stats = inner(outputs, batch)
                calls[0] += 1
                return (loss * float("nan"), stats) if calls[0] == nan_at else (loss, stats)

        criterion = NanOnThisRank()

    return Trainer(
        model,
        criterion,
        optimizer,
        build_scheduler(cfg, optimizer),
        build_train_loader(cfg, settings, ctx),
        TrainerOptions.from_config(cfg, show_progress=False),
        ctx=ctx,
        frozen_modules=frozen,
    )


def _worker(rank, world_size, port, got10k_dir, out_dir):
    """Epoch 1 normally (weights saved per rank), then a NaN on rank 1 in epoch 2: both must exit 3."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    code = 0
    try:
        ctx = init_distributed(use_cuda=False)
        settings = LocalSettings(workspace_dir=out_dir, save_dir=out_dir, got10k_dir=got10k_dir)
        cfg = tiny_config("stark_s", *OPTS)
        trainer = _build(cfg, settings, ctx, nan_at=4 if rank == 1 else None)  # 2 steps/epoch: epoch 2, step 2
        trainer.options.epochs = 1
        trainer.fit()
        torch.save(trainer.net.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
        trainer.options.epochs = 2
        trainer.fit()
    except NonFiniteLossError as err:
        with open(os.path.join(out_dir, f"error{rank}.txt"), "w") as f:
            f.write(str(err))
        code = 3
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        cleanup_distributed()
    sys.exit(code)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_match_one_process_with_accumulation_and_stop_together_on_nan(settings, tmp_path):
    context = mp.get_context("spawn")
    port = _free_port()
    procs = [context.Process(target=_worker, args=(r, 2, port, settings.got10k_dir, str(tmp_path))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    # honest failure: a NaN on rank 1 only stops both ranks with the message, no hang, non-zero codes
    assert codes == [3, 3], codes
    for rank in range(2):
        message = (tmp_path / f"error{rank}.txt").read_text()
        assert "epoch 2, iteration 2" in message and "loss=nan" in message and "giou=" in message
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # one process, grad_accum_steps=2: the same global batch of 4 and the same samples per step
    cfg = tiny_config("stark_s", *OPTS, "train.grad_accum_steps=2", "train.epoch=1")
    single = _build(cfg, settings, DistContext())
    single.fit()
    assert single.global_step == 2
    # parameters match; batch-norm running statistics do not by design (DDP keeps rank 0's, which saw
    # only rank 0's micro-batches, while one process updates them with every micro-batch)
    params = dict(single.net.named_parameters())
    assert len(params) > 50
    for key, value in params.items():
        torch.testing.assert_close(value.detach(), rank0[key], rtol=1e-4, atol=1e-5, msg=key)
    seed_everything(derive_seed(cfg.train.seed))
    initial = build_stark(cfg).state_dict()
    assert not torch.allclose(initial["bottleneck.weight"], rank0["bottleneck.weight"])  # training moved them
