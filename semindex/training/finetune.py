"""Step 3: fine-tune the encoder with triplet loss under Ray Train (``TorchTrainer``).

Each worker runs the sentence-transformers trainer (DDP over gloo on CPU, NCCL on GPU,
set up by Ray Train); rank 0 saves the final model and reports it as the checkpoint,
which Ray Train persists under ``storage_path`` (shared storage on a multi-node cluster).

After every epoch the held-out anchors are retrieved against the synonym table
(:class:`~semindex.training.selection.RetrievalSet`): the epoch whose top-1 is best is the
one kept, and early stopping watches the same figure. The triplet validation loss is
reported too, but it does not track retrieval (it kept falling while top-1 did not).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from semindex.data import Triplet
from semindex.training.selection import RetrievalSet

log = logging.getLogger(__name__)

#: The per-epoch figure that picks the epoch kept (InformationRetrievalEvaluator, name "retrieval").
TOP1_METRIC = "retrieval_cosine_accuracy@1"


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import ray.train
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import TripletDistanceMetric, TripletLoss
    from transformers import EarlyStoppingCallback, TrainerCallback

    try:
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:  # sentence-transformers 5.x
        from sentence_transformers.evaluation import InformationRetrievalEvaluator  # type: ignore[no-redef]

    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    use_gpu = bool(config["use_gpu"]) and torch.cuda.is_available()
    torch.manual_seed(config["seed"])
    model = SentenceTransformer(config["model_path"], device="cuda" if use_gpu else "cpu")
    train = Dataset.from_dict(config["train"])
    val = Dataset.from_dict(config["val"]) if config["val"]["anchor"] else None
    retrieval: RetrievalSet | None = config.get("retrieval") if val is not None else None
    evaluator = None
    if retrieval is not None:
        queries: dict[str, Any] = dict(retrieval.queries)
        corpus: dict[str, Any] = dict(retrieval.corpus)
        evaluator = InformationRetrievalEvaluator(
            queries, corpus, retrieval.relevant, name="retrieval", accuracy_at_k=[1],
            precision_recall_at_k=[1], mrr_at_k=[10], ndcg_at_k=[10], map_at_k=[10],
            batch_size=128, write_csv=False)
    best_metric = "eval_loss" if evaluator is None else f"eval_{TOP1_METRIC}"
    # Cosine distance: the euclidean default (margin 5) never converges on unit vectors.
    loss = TripletLoss(model, distance_metric=TripletDistanceMetric.COSINE,
                              triplet_margin=config["margin"])
    with tempfile.TemporaryDirectory() as out_dir:
        args = SentenceTransformerTrainingArguments(
            output_dir=out_dir,
            num_train_epochs=config["epochs"],
            per_device_train_batch_size=config["batch_size"],
            per_device_eval_batch_size=config["eval_batch_size"],
            learning_rate=config["learning_rate"],
            warmup_ratio=0.1,
            seed=config["seed"],
            data_seed=config["seed"],
            eval_strategy="epoch" if val is not None else "no",
            save_strategy="epoch" if val is not None else "no",
            load_best_model_at_end=val is not None,
            metric_for_best_model=best_metric if val is not None else None,
            greater_is_better=evaluator is not None,
            save_total_limit=1,
            logging_steps=10,
            report_to="none",
            use_cpu=not use_gpu,
            disable_tqdm=rank != 0,
            dataloader_num_workers=0,
        )
        callbacks: list[TrainerCallback] = []
        if val is not None:
            callbacks.append(EarlyStoppingCallback(config["patience"]))
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                             eval_dataset=val, loss=loss, evaluator=evaluator,
                                             callbacks=callbacks)
        result = trainer.train()
        metrics: dict[str, Any] = {"train_loss": float(result.training_loss),
                                   "epochs_run": float(trainer.state.epoch or 0)}
        if val is not None:
            metrics["epoch_history"] = [
                {k: v for k, v in h.items() if k in ("epoch", "eval_loss", f"eval_{TOP1_METRIC}")}
                for h in trainer.state.log_history if "eval_loss" in h]
            final = trainer.evaluate()  # the kept (best) epoch
            metrics["eval_loss"] = float(final["eval_loss"])
            if retrieval is not None:  # the evaluator ran
                metrics["eval_top1"] = float(final[f"eval_{TOP1_METRIC}"])
                metrics["eval_top1_queries"] = len(retrieval.queries)
        # Which nodes did the work (rank 0 reports them): shows multi-node placement.
        nodes = [ray.get_runtime_context().get_node_id()]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            nodes = [""] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(nodes, ray.get_runtime_context().get_node_id())
        metrics["worker_nodes"] = nodes
        metrics["device"] = str(model.device)
        with tempfile.TemporaryDirectory() as ckpt_dir:
            checkpoint = None
            if rank == 0:
                model.save(ckpt_dir)
                checkpoint = ray.train.Checkpoint.from_directory(ckpt_dir)
            ray.train.report(metrics, checkpoint=checkpoint)


def finetune(model_path: str, train: list[Triplet], val: list[Triplet], dest: Path, *,
             epochs: int, batch_size: int, learning_rate: float, margin: float, seed: int,
             patience: int, num_workers: int, use_gpu: bool, cpus_per_worker: float,
             storage_path: str, run_name: str, placement_strategy: str = "PACK",
             retrieval: RetrievalSet | None = None) -> dict[str, Any]:
    """Fine-tune ``model_path`` on ``train`` triplets; the model is written to ``dest``.

    ``retrieval``: held-out queries that pick the epoch kept (else the ``val`` triplet loss).
    """
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    def columns(ts: list[Triplet]) -> dict[str, list[str]]:
        return {"anchor": [t.anchor for t in ts], "positive": [t.positive for t in ts],
                "negative": [t.negative for t in ts]}

    # Under Ray Train a worker's triplets make whole batches only: with fewer triplets than
    # one batch it had none, and the trainer failed ("max_steps must be set to a positive
    # value"). A small vocabulary trains in smaller batches instead.
    per_worker = max(1, len(train) // num_workers)
    if batch_size > per_worker:
        log.warning("%d training triplet(s) over %d worker(s): batch size %d -> %d",
                    len(train), num_workers, batch_size, per_worker)
        batch_size = per_worker
    eval_batch_size = max(1, min(batch_size, len(val) // num_workers))  # same for the eval loss
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"model_path": model_path, "train": columns(train), "val": columns(val),
                           "epochs": epochs, "batch_size": batch_size,
                           "eval_batch_size": eval_batch_size,
                           "learning_rate": learning_rate, "margin": margin, "seed": seed,
                           "patience": patience, "use_gpu": use_gpu, "retrieval": retrieval},
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker},
                                     placement_strategy=placement_strategy),
        run_config=RunConfig(name=run_name, storage_path=storage_path,
                             checkpoint_config=CheckpointConfig(num_to_keep=1)),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {run_name} produced no checkpoint: {result.error}")
    with result.checkpoint.as_directory() as ckpt:
        shutil.copytree(ckpt, dest)
    metrics = dict(result.metrics or {})
    metrics["batch_size"] = batch_size
    shutil.rmtree(Path(storage_path) / run_name, ignore_errors=True)  # the model now lives in the version
    return metrics
