"""SCAR (Bonato, Cotogni, Sabetta, ECCV 2024: "Is Retain Set All You Need in Machine Unlearning?
Restoring Performance of Unlearned Models with Out-Of-Distribution Images") as the authors' code runs
it (jbonato1/SCAR, src/Unlearning_methods.py SCAR.run, src/dsets.py get_surrogate, src/opts.py, src/main.py).

Before unlearning, with the model in eval mode, every retain sample's embedding (the classifier's
input) is taken; for each class the code keeps (class forgetting: all but the forgotten ones) the
Tukey-transformed embeddings x^δ give a mean and a covariance, shrunk twice
(Σ + γ₁·mean(diag Σ)·I + γ₂·mean(non-zero off-diagonals of Σ)·(1 − I)), normalised to a correlation
matrix and pseudo-inverted. Then, the model in train mode, for every forget batch (in order) a fixed
number of surrogate (out-of-distribution) batches each give one Adam step on

    λ₁ · mean_i d_M(x_i, c_i)  +  λ₂ · KL(softmax(original(s) / T) ‖ softmax(model(s)))   (batch mean)

where d_M is the squared Mahalanobis distance between the L2-normalised x^δ of a forget embedding
and the L2-normalised mean of class c_i, and c_i is the sample's nearest class (or its second nearest
when the nearest is "its own", see `target_skip`), fixed at the first step that sees its batch.
Class forgetting (the code's CR branch): the surrogate images are augmented, the samples the original
assigns to the forgotten class are dropped from the distillation and the forgotten classes' teacher
logits set to the batch's smallest logit. Random forgetting (HR): plain surrogate images drawn with
replacement, balanced over the original's predicted classes, and each forget sample's distance
weighted by its class's forget accuracy (zero below `forget_accuracy_threshold`). After every step
the forget accuracy is measured (eval mode); from the third epoch on, unlearning stops when it falls
below the target."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, Subset
from tqdm.auto import tqdm

from unlearn_bench.data.base import ImageDataset, ImageSplit
from unlearn_bench.data.folder import IMAGE_SUFFIXES, decode_image
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.gradient import describe_factory
from unlearn_bench.methods.loops import frozen, seed_all
from unlearn_bench.utils.errors import UnlearnBenchError

EPS = 1e-4  # the code's 10e-5, added to the logits and the log-probabilities in SCAR.distill
GAUSSIAN = "gaussian_noise"
NOISE_IMAGES = 10_000  # the code's subset_gaussian_noise: 10 files of 1,000 N(0, 1) images
SKIP_RULES = ("index", "label")
NORMALIZE = ("own", "dataset")
MISSING = ("method=scar needs out-of-distribution surrogate images and none are set: pass "
           "method.surrogate=/path/to/a/folder/of/images (the authors use 10,000 ImageNet images; any images "
           "unlike the dataset's will do, in the folder or its sub-folders) or method.surrogate=gaussian_noise.")


# --- the class statistics and the Mahalanobis distance -------------------------------------------

def tukey(x: torch.Tensor, delta: float) -> torch.Tensor:
    """The code's Tukey transformation x^δ."""
    return torch.pow(x, delta)


def shrink(cov: torch.Tensor, gamma1: float, gamma2: float) -> torch.Tensor:
    """Σ + γ₁·v₁·I + γ₂·v₂·(1 − I): v₁ the mean of the diagonal, v₂ the mean of the off-diagonal entries
    that are not zero (SCAR.cov_mat_shrinkage; v₂ = 0 when every off-diagonal entry is zero, where the
    code divides 0 by 0)."""
    eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    v1 = torch.diagonal(cov).mean()
    off = cov * (1 - eye)
    nonzero = (off != 0).sum()
    v2 = off.sum() / nonzero if nonzero > 0 else off.sum()
    return cov + gamma1 * eye * v1 + gamma2 * (1 - eye) * v2


def correlation(cov: torch.Tensor) -> torch.Tensor:
    """Σ / (σ σᵀ), σ = sqrt(diag Σ) (SCAR.normalize_cov)."""
    sigma = torch.sqrt(torch.diagonal(cov))
    return cov / (sigma[:, None] * sigma[None, :])


def class_statistics(embeddings: torch.Tensor, labels: torch.Tensor, classes: list[int], delta: float,
                     gamma1: float, gamma2: float, shrink_passes: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, d) means of x^δ and (K, d, d) pseudo-inverses of their shrunk (`shrink_passes` times),
    normalised covariances (unbiased, torch.cov), one per class of `classes`, in that order."""
    means, inverses = [], []
    for c in classes:
        samples = tukey(embeddings[labels == c], delta)
        if len(samples) < 2:
            raise UnlearnBenchError(f"method=scar estimates a covariance per class from the retain set, but class "
                                    f"{c} has {len(samples)} retain sample(s): it needs at least 2.")
        means.append(samples.mean(0))
        cov = torch.cov(samples.T)
        for _ in range(shrink_passes):
            cov = shrink(cov, gamma1, gamma2)
        inverses.append(torch.linalg.pinv(correlation(cov)))
    return torch.stack(means), torch.stack(inverses)


def mahalanobis(embeddings: torch.Tensor, means: torch.Tensor, inverses: torch.Tensor, delta: float) -> torch.Tensor:
    """(B, K) squared distances (x − μ_k)ᵀ S_k (x − μ_k), x the L2-normalised x^δ of each embedding, μ_k
    the L2-normalised class mean (SCAR.mahalanobis_dist, transposed as the code's caller does)."""
    diff = F.normalize(tukey(embeddings, delta), p=2, dim=-1)[:, None, :] - F.normalize(means, p=2, dim=-1)
    return torch.einsum("bkd,kde,bke->bk", diff, inverses, diff)


def wrong_class_targets(distances: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor,
                        skip: str = "index") -> torch.Tensor:
    """The position (in `classes`) each forget sample is pulled to: its nearest class, or the second
    nearest when the nearest is "its own". skip="index" (the code): when the nearest class's position
    among the kept classes equals the sample's label (in class forgetting, where the forgotten class is
    not kept, that is the class after it); skip="label": when the nearest class is the sample's class."""
    order = torch.argsort(distances, dim=1)
    first = order[:, 0]
    own = (first == labels) if skip == "index" else (classes[first] == labels)
    return torch.where(own, order[:, 1], first)


# --- the distillation on surrogate images --------------------------------------------------------

def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The code's SCAR.distill: kl_div(log_softmax(student + ε) + ε, log_softmax(teacher + ε) + ε,
    batchmean, log_target): e^ε · KL(teacher ‖ student) summed over classes, averaged over the batch.
    The caller divides the teacher's logits (only) by the temperature."""
    log_teacher = F.log_softmax(teacher_logits.float() + EPS, dim=1)
    log_student = F.log_softmax(student_logits.float() + EPS, dim=1)
    return F.kl_div(log_student + EPS, log_teacher + EPS, reduction="batchmean", log_target=True)


def drop_forgotten(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                   forget_classes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The code's class-forgetting teacher: the samples the teacher assigns to the (first) forgotten
    class dropped from both, then the forgotten classes' teacher logits set to the smallest teacher
    logit left in the batch."""
    keep = teacher_logits.argmax(dim=1) != forget_classes[0]
    teacher = teacher_logits[keep].clone()
    if len(teacher):
        teacher[:, list(forget_classes)] = teacher.min()
    return student_logits[keep], teacher


def balanced_weights(predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The code's sampling weights for random forgetting: 1 / (how many surrogate images the original
    assigns to the image's class), a count under 3 counted as 5."""
    counts = torch.bincount(predicted, minlength=num_classes)[predicted].float()
    counts[counts < 3] = 5.0
    return 1.0 / counts


# --- the surrogate images -------------------------------------------------------------------------

def image_dataset(dataset: Dataset) -> ImageDataset | None:
    """The ImageDataset under Subset / ConcatDataset views, if any."""
    while isinstance(dataset, (Subset, ConcatDataset)):
        dataset = dataset.dataset if isinstance(dataset, Subset) else dataset.datasets[0]
    return dataset if isinstance(dataset, ImageDataset) and dataset.spec is not None else None


def surrogate_files(folder: Path) -> list[Path]:
    """Every image file in `folder` and its sub-folders, in sorted path order (as ImageFolder reads the
    code's class_<k> chunks)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def own_statistics(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1]."""
    x = images.float().div(255).transpose(0, 1).flatten(1)
    std = x.std(dim=1).clamp_min(1e-6)
    return tuple(x.mean(dim=1).tolist()), tuple(std.tolist())


class Noise(Dataset):
    """(image, 0) pairs of ready model inputs (the code's Gaussian-noise surrogate has no transform)."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], 0


def load_surrogate(setting, ctx: UnlearnContext, augment: bool, normalize: str, limit: int | None) -> Dataset:
    """The surrogate images as a dataset of (model input, 0): a folder's images decoded at the dataset's
    stored size and channels, normalised with their own statistics or the dataset's and augmented with
    the dataset's training augmentation when asked; or N(0, 1) noise the shape of a model input; or a
    Dataset given as is."""
    if isinstance(setting, Dataset):
        return setting
    if setting is None:
        raise UnlearnBenchError(MISSING)
    sample = ctx.forget_set[0][0]
    if str(setting) == GAUSSIAN:
        generator = torch.Generator().manual_seed(ctx.seed)
        n = NOISE_IMAGES if limit is None else limit
        return Noise(torch.randn(n, *sample.shape, generator=generator))
    base = image_dataset(ctx.forget_set)
    if base is None:
        raise UnlearnBenchError("method.surrogate=<folder> needs a dataset with an image transform "
                                "(unlearn_bench.data.base.ImageDataset) to decode its images like the dataset's; "
                                "use method.surrogate=gaussian_noise with this dataset.")
    files = surrogate_files(Path(str(setting)).expanduser())
    if limit is not None:
        files = files[:limit]
    if isinstance(base.split.images, torch.Tensor):
        channels, size = base.split.images.shape[1], base.split.images.shape[-1]
    else:
        channels, size = sample.shape[0], base.load_size or sample.shape[-1]
    arrays = [torch.from_numpy(decode_image(p, size, channels).copy()).permute(2, 0, 1) for p in files]
    images = torch.stack(arrays).contiguous()
    spec = base.spec
    if normalize == "own":
        mean, std = own_statistics(images)
        spec = type(spec)(mean, std, spec.input_size, spec.augmentations)
    return ImageDataset(ImageSplit(images, torch.zeros(len(images), dtype=torch.long)), spec=spec, augment=augment)


def check_surrogate(setting) -> None:
    """Refuse, before any training, a surrogate that is not set, not a folder, or a folder without images."""
    if isinstance(setting, Dataset):
        return
    if setting is None or str(setting).strip() in ("", "null", "None"):
        raise UnlearnBenchError(MISSING)
    if str(setting) == GAUSSIAN:
        return
    folder = Path(str(setting)).expanduser()
    if not folder.is_dir():
        raise UnlearnBenchError(f"method.surrogate={setting} is not a folder: give the folder of surrogate "
                                f"images (or method.surrogate=gaussian_noise).")
    if not surrogate_files(folder):
        raise UnlearnBenchError(f"method.surrogate={setting} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}, "
                                "in the folder or its sub-folders): put the surrogate images there.")


# --- the method -----------------------------------------------------------------------------------

def embed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The classifier's input for `x` (the code's bbone: every layer but the last, flattened)."""
    captured: list[torch.Tensor] = []
    hook = model.get_classifier().register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0]))
    try:
        model(x)
    finally:
        hook.remove()
    return captured[0].flatten(1)


class SCAR(UnlearningMethod):
    """Adam (lr 5e-4, no weight decay, no schedule), 30 epochs, batch 1024 for the retain, forget and
    surrogate loaders; λ₁ 1, λ₂ 5, T 1, δ 0.5, γ₁ = γ₂ = 3; `surrogate_batches` 6 steps per forget batch
    (the code's num_retain_samp 5 for CIFAR: it breaks when the batch index exceeds 5). The per-task
    branches are settings, selected by the YAML's presets; `surrogate` is a folder of images,
    "gaussian_noise" or a Dataset."""

    name = "scar"
    data_used = ("forget", "retain")
    tasks = ("class", "subclass", "random")

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], surrogate=None, epochs: int = 30,
                 batch_size: int = 1024, surrogate_batches: int = 6, lambda_1: float = 1.0, lambda_2: float = 5.0,
                 temperature: float = 1.0, delta: float = 0.5, gamma1: float = 3.0, gamma2: float = 3.0,
                 shrink_passes: int = 2, target_skip: str = "index", extra_forward: bool = True,
                 augment_statistics: bool = True, augment_surrogate: bool = True, balance_surrogate: bool = False,
                 drop_forgotten: bool = True, forget_accuracy_threshold: float | None = None,
                 stop_accuracy: float | str = 0.01, stop_margin: float = 0.015, stop_after_epoch: int = 1,
                 normalize: str = "own", surrogate_limit: int | None = None):
        super().__init__()
        if not callable(optimizer):
            raise UnlearnBenchError(f"method.optimizer must be an optimiser target with _partial_: true, got "
                                    f"{optimizer!r}.")
        check_surrogate(surrogate)
        if target_skip not in SKIP_RULES:
            raise UnlearnBenchError(f"method.target_skip must be one of {', '.join(SKIP_RULES)}, got {target_skip!r}.")
        if normalize not in NORMALIZE:
            raise UnlearnBenchError(f"method.normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}.")
        if not (stop_accuracy == "reference" or isinstance(stop_accuracy, (int, float))):
            raise UnlearnBenchError(f"method.stop_accuracy must be a fraction or 'reference' (the original's "
                                    f"validation accuracy − method.stop_margin), got {stop_accuracy!r}.")
        if balance_surrogate and augment_surrogate:
            raise UnlearnBenchError("method.balance_surrogate=true keeps the original's outputs of the plain surrogate "
                                    "images (the code's random-forgetting branch): set method.augment_surrogate=false.")
        if surrogate_batches < 1 or epochs < 0 or shrink_passes < 0:
            raise UnlearnBenchError("method.surrogate_batches must be ≥ 1 and method.epochs, method.shrink_passes ≥ 0.")
        if temperature <= 0:
            raise UnlearnBenchError(f"method.temperature must be > 0 (it divides the teacher's logits), got "
                                    f"{temperature}.")
        self.optimizer, self.surrogate = optimizer, surrogate
        self.epochs, self.batch_size, self.surrogate_batches = epochs, batch_size, surrogate_batches
        self.lambda_1, self.lambda_2, self.temperature = lambda_1, lambda_2, temperature
        self.delta, self.gamma1, self.gamma2, self.shrink_passes = delta, gamma1, gamma2, shrink_passes
        self.target_skip, self.extra_forward = target_skip, extra_forward
        self.augment_statistics, self.augment_surrogate = augment_statistics, augment_surrogate
        self.balance_surrogate, self.drop_forgotten = balance_surrogate, drop_forgotten
        self.forget_accuracy_threshold = forget_accuracy_threshold
        self.stop_accuracy, self.stop_margin, self.stop_after_epoch = stop_accuracy, stop_margin, stop_after_epoch
        self.normalize, self.surrogate_limit = normalize, surrogate_limit

    # the pieces of a run, each a step of the code --------------------------------------------------

    def kept_classes(self, ctx: UnlearnContext) -> list[int]:
        """The classes with a distribution: class forgetting drops the forgotten ones (the code's CR)."""
        removed = set(ctx.forget_classes) if ctx.task == "class" else set()
        return [c for c in range(ctx.num_classes) if c not in removed]

    @torch.no_grad()
    def statistics(self, model: nn.Module, ctx: UnlearnContext, classes: list[int]):
        model.eval()
        data = ctx.retain_train_set if self.augment_statistics else ctx.retain_set
        embeddings, labels = [], []
        for x, y, *_ in ctx.loader(data, shuffle=True, batch_size=self.batch_size):
            with ctx.autocast():
                embeddings.append(embed(model, x.to(ctx.device)).float())
            labels.append(y.to(ctx.device))
        embeddings, labels = torch.cat(embeddings), torch.cat(labels)
        if self.delta != int(self.delta) and bool((embeddings < 0).any()):
            raise UnlearnBenchError(f"method.delta={self.delta} takes a fractional power of the classifier's inputs, "
                                    f"but this model's are negative (down to {float(embeddings.min()):.3g}): use a "
                                    "model whose features end in a ReLU, or method.delta=1.")
        return class_statistics(embeddings, labels, classes, self.delta, self.gamma1, self.gamma2, self.shrink_passes)

    @torch.no_grad()
    def forget_accuracy(self, model: nn.Module, ctx: UnlearnContext, loader) -> tuple[float, torch.Tensor]:
        """Accuracy on the forget set and per class (NaN for classes without forget samples), eval mode."""
        was = model.training
        model.eval()
        correct = torch.zeros(ctx.num_classes, device=ctx.device)
        total = torch.zeros(ctx.num_classes, device=ctx.device)
        for x, y, *_ in loader:
            x, y = x.to(ctx.device), y.to(ctx.device)
            with ctx.autocast():
                hit = (model(x).argmax(1) == y).float()
            correct.index_add_(0, y, hit)
            total.index_add_(0, y, torch.ones_like(hit))
        model.train(was)
        return float(correct.sum() / total.sum().clamp_min(1)), correct / total

    @torch.no_grad()
    def accuracy(self, model: nn.Module, ctx: UnlearnContext, dataset: Dataset) -> float:
        hits = count = 0
        for x, y, *_ in ctx.loader(dataset, shuffle=False, batch_size=self.batch_size):
            x, y = x.to(ctx.device), y.to(ctx.device)
            with ctx.autocast():
                hits += int((model(x).argmax(1) == y).sum())
            count += len(y)
        return hits / max(count, 1)

    def surrogate_passes(self, teacher: nn.Module, ctx: UnlearnContext, dataset: Dataset):
        """A function giving one pass over the surrogate: batches of (images, stored teacher logits or None).
        Class forgetting: a shuffled loader (the teacher runs on each batch); random forgetting: the images
        and the original's logits kept once, each pass drawn with replacement, balanced over the original's
        predicted classes (the code's WeightedRandomSampler)."""
        if not self.balance_surrogate:
            loader = ctx.loader(dataset, shuffle=True, batch_size=self.batch_size)
            return lambda: ((batch[0], None) for batch in loader)
        images, logits = [], []
        with torch.no_grad():
            for x, *_ in ctx.loader(dataset, shuffle=False, batch_size=self.batch_size):
                x = x.to(ctx.device)
                with ctx.autocast():
                    logits.append(teacher(x).float())
                images.append(x)
        images, logits = torch.cat(images), torch.cat(logits)
        weights = balanced_weights(logits.argmax(1), ctx.num_classes).cpu()
        generator = torch.Generator().manual_seed(ctx.seed)

        def one_pass():
            idx = torch.multinomial(weights, len(weights), replacement=True, generator=generator).to(ctx.device)
            for start in range(0, len(idx), self.batch_size):
                part = idx[start:start + self.batch_size]
                yield images[part], logits[part]

        return one_pass

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        teacher = frozen(copy.deepcopy(model), ctx.device)  # the code's deepcopy of the net, eval mode
        surrogate = load_surrogate(self.surrogate, ctx, self.augment_surrogate, self.normalize, self.surrogate_limit)
        classes = self.kept_classes(ctx)
        class_index = torch.tensor(classes, device=ctx.device)
        means, inverses = self.statistics(model, ctx, classes)
        target = (self.accuracy(teacher, ctx, ctx.val_set) - self.stop_margin if self.stop_accuracy == "reference"
                  else float(self.stop_accuracy))
        passes = self.surrogate_passes(teacher, ctx, surrogate)
        forget_loader = ctx.loader(ctx.forget_set, shuffle=False, batch_size=self.batch_size)
        model.train()  # the code's bbone.train(), fc.train()
        trained = [p for p in model.parameters() if p.requires_grad]
        optimizer = self.optimizer(trained)
        progress = ctx.progress
        targets: list[torch.Tensor] = []  # per forget batch, fixed at its first step
        per_class: torch.Tensor | None = None
        steps, dropped, stopped = 0, 0, None
        forget_losses: list[float] = []
        retain_losses: list[float] = []
        accuracy = float("nan")
        for epoch in range(self.epochs):
            epoch_f, epoch_r, count = 0.0, 0.0, 0
            for n, (xf, yf, *_) in enumerate(tqdm(forget_loader, desc=f"{self.name} {epoch + 1}/{self.epochs}",
                                                   leave=False, disable=not progress)):
                xf, yf = xf.to(ctx.device), yf.to(ctx.device)
                for j, (xs, stored) in enumerate(passes()):
                    xs = xs.to(ctx.device)
                    if j >= self.surrogate_batches:
                        if self.extra_forward:  # the code's last forward passes before its break: no step
                            with torch.no_grad(), ctx.autocast():
                                model(xf)
                                model(xs)
                        break
                    optimizer.zero_grad(set_to_none=True)
                    with ctx.autocast():
                        distances = mahalanobis(embed(model, xf).float(), means, inverses, self.delta)
                        if epoch == 0 and j == 0:
                            targets.append(wrong_class_targets(distances.detach(), yf, class_index, self.target_skip))
                        chosen = distances[torch.arange(len(distances), device=ctx.device), targets[n][:len(distances)]]
                        if self.forget_accuracy_threshold is not None and per_class is not None:
                            weight = torch.where(per_class < self.forget_accuracy_threshold, 0.0, per_class)
                            chosen = chosen * weight[yf]
                        loss_f = chosen.mean() * self.lambda_1
                        student = model(xs)
                        if stored is None:
                            with torch.no_grad():
                                stored = teacher(xs).float()
                        if self.drop_forgotten and ctx.task == "class" and ctx.forget_classes:
                            kept = int((stored.argmax(1) != ctx.forget_classes[0]).sum())
                            dropped += len(stored) - kept
                            student, stored = drop_forgotten(student, stored, tuple(ctx.forget_classes))
                        loss_r = (distill_kl(student, stored / self.temperature) * self.lambda_2 if len(stored)
                                  else student.sum() * 0.0)
                        loss = loss_r + loss_f
                    loss.backward()
                    optimizer.step()
                    steps += 1
                    epoch_f += float(loss_f.detach())
                    epoch_r += float(loss_r.detach())
                    count += 1
                    accuracy, per_class = self.forget_accuracy(model, ctx, forget_loader)
                    if accuracy < target and epoch > self.stop_after_epoch:
                        stopped = {"epoch": epoch, "step": steps}
                        break
                if stopped:
                    break
            forget_losses.append(epoch_f / max(count, 1))
            retain_losses.append(epoch_r / max(count, 1))
            if stopped:
                break
        self.report = {"epochs": self.epochs, "batch_size": self.batch_size, "surrogate_batches": self.surrogate_batches,
                       "lambda_1": self.lambda_1, "lambda_2": self.lambda_2, "temperature": self.temperature,
                       "delta": self.delta, "gamma1": self.gamma1, "gamma2": self.gamma2,
                       "optimizer": describe_factory(self.optimizer), "surrogate": (self.surrogate if isinstance(
                           self.surrogate, str) else type(self.surrogate).__name__),
                       "surrogate_images": len(surrogate), "kept_classes": classes,
                       "samples": {"forget": len(ctx.forget_set)}, "stop_target": target, "stopped": stopped,
                       "steps": steps, "dropped_surrogate_samples": dropped, "forget_accuracy": accuracy,
                       "targets": torch.bincount(class_index[torch.cat(targets)], minlength=ctx.num_classes).tolist()
                       if targets else [],
                       "epoch_losses": {"forget": forget_losses, "retain": retain_losses}}
        return model.eval()
