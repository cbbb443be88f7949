"""Does each reference test catch a change of its method's defining step? Applies one mutation at a
time to the source (train/eval mode, a loss term, a reduction, a mask, the accumulation, a batch
size...), runs the matching tests of tests/test_reference_steps.py (or the file a mutation names), and puts
the source back.

    .venv/bin/python scripts/check_reference_tests.py     # from the repository root; about 2 minutes
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

MUTATIONS = [  # (name, file, text, its mutation, -k of the reference test that must fail[, its test file])
 ("neggrad eval->train", "src/unlearn_bench/methods/neggrad_plus.py", 'train_mode=self.model_mode == "train"', 'train_mode=True', "neggrad"),
 ("neggrad no pull", "src/unlearn_bench/methods/neggrad_plus.py", 'pull = l2_pull(m, start, decay) if decay else 0.0', 'pull = 0.0', "neggrad"),
 ("jit zero each step", "src/unlearn_bench/methods/jit.py", '            if not self.accumulate_gradients:\n', '            if True:\n', "jit_sums"),
 ("salun mask off", "src/unlearn_bench/methods/saliency.py", 'p.copy_(torch.where(mask, p, self.start[name]))', 'pass', "salun"),
 ("rl other labels", "src/unlearn_bench/methods/random_label.py", 'if self.labels == "uniform":', 'if False:', "random_label_relabels"),
 ("scrub gamma", "src/unlearn_bench/methods/scrub.py", 'return gamma * F.cross_entropy', 'return F.cross_entropy', "scrub_alternates"),
 ("scrub rewind all val", "src/unlearn_bench/methods/scrub.py", 'if self.rewind_reference == "validation":', 'if True:', "scrub_r"),
 ("finetune eval", "src/unlearn_bench/methods/loops.py", '    model.to(device).train()\n    history = []\n    keep', '    model.to(device).eval()\n    history = []\n    keep', "finetune"),
 ("badteacher mean", "src/unlearn_bench/methods/bad_teacher.py", 'return F.kl_div(log_p, target, reduction=reduction)', 'return F.kl_div(log_p, target, reduction="mean")', "bad_teacher"),
 ("amnesiac batch", "src/unlearn_bench/methods/amnesiac.py", 'loader = ctx.loader(data, shuffle=True, batch_size=self.batch_size)', 'loader = ctx.loader(data, shuffle=True, batch_size=4)', "amnesiac"),
 ("l1 constant", "src/unlearn_bench/methods/l1_sparse.py", 'return [alpha * (1 - t / epochs) for t in range(epochs)]', 'return [alpha for t in range(epochs)]', "l1_sparse"),
 ("ssd >=", "src/unlearn_bench/methods/ssd.py", 'selected = f > alpha * d', 'selected = f >= 0.5 * alpha * d', "ssd_dampens"),
 ("fisher boost", "src/unlearn_bench/methods/fisher.py", '        var = var * boost', '        var = var', "fisher_noise"),
 ("unsir train mode", "src/unlearn_bench/methods/unsir.py", 'model.train(official)', 'model.train(True)', "unsir_noise"),
 ("unsir repeats", "src/unlearn_bench/methods/unsir.py", 'noise_set = NoiseDataset(torch.cat(self.noise), noise_labels, self.noise_repeats)', 'noise_set = NoiseDataset(torch.cat(self.noise), noise_labels, 1)', "unsir_impairs"),
 ("retrain all", "src/unlearn_bench/methods/retrain.py", 'model.get_classifier().reset_parameters()', '[m.reset_parameters() for m in model.modules() if hasattr(m, "reset_parameters")]', "retrain_head"),
 ("neggrad ascent eval", "src/unlearn_bench/methods/neggrad.py", 'ascent_loss, train_mode=True)', 'ascent_loss, train_mode=False)', "neggrad_ascends"),
 ("neggrad no augmentation", "src/unlearn_bench/methods/neggrad.py", 'data = "forget_train_set" if self.augment else "forget_set"', 'data = "forget_set"', "neggrad_ascends"),
 ("cf_k eval mode", "src/unlearn_bench/methods/last_layers.py", 'cross_entropy_loss, train_mode=True)', 'cross_entropy_loss, train_mode=False)', "cf_k_trains"),
 ("cf_k no clipping", "src/unlearn_bench/methods/gradient.py", '                nn.utils.clip_grad_norm_(trained, self.clip_grad_norm)', '                pass', "cf_k_trains"),
 ("eu_k keeps weights", "src/unlearn_bench/methods/last_layers.py", '                reinitialise(module)', '                pass', "eu_k_reinitialises"),
 ("bs attacker train mode", "src/unlearn_bench/methods/boundary.py", 'attacker = frozen(copy.deepcopy(ctx.original), ctx.device)', 'attacker = copy.deepcopy(ctx.original).train().requires_grad_(False)', "boundary_shrink"),
 ("bs loss on neighbours", "src/unlearn_bench/methods/boundary.py", 'return F.cross_entropy(model(x), target)', 'return F.cross_entropy(model(neighbour), target)', "boundary_shrink"),
 ("bs no rounding", "src/unlearn_bench/methods/boundary.py", '    moved = torch.round(moved * 255) / 255\n', '', "boundary_shrink"),
 ("be shadow label", "src/unlearn_bench/methods/boundary.py", 'shadow_label = ctx.num_classes', 'shadow_label = ctx.num_classes - 1', "boundary_expanding"),
 ("iu train mode", "src/unlearn_bench/methods/influence.py", 'model = model.to(ctx.device).eval()', 'model = model.to(ctx.device).train()', "iu_steps"),
 ("iu true direction", "src/unlearn_bench/methods/influence.py", '            o = o - (tmp / (n + tmp)) * o', '            o = g', "iu_steps"),
 ("iu retain weight", "src/unlearn_bench/methods/influence.py", 'v = forget_sum / n - retain_sum * (n_f / (n * n_r))', 'v = forget_sum / n - retain_sum / n', "iu_steps"),
 ("msg kept gradient 1", "src/unlearn_bench/methods/msg.py", 'scale = torch.where(mask, 1.0, self.kept_gradient)', 'scale = torch.where(mask, 1.0, 1.0)', "msg_reinitialises"),
 ("msg largest gradients", "src/unlearn_bench/methods/msg.py", 'torch.topk(-grad.abs().view(-1), k=count)', 'torch.topk(grad.abs().view(-1), k=count)', "msg_reinitialises"),
 ("msg forget descent", "src/unlearn_bench/methods/msg.py", '(-F.cross_entropy(model(x), y)).backward()', 'F.cross_entropy(model(x), y).backward()', "msg_reinitialises"),
 ("sfron mask off", "src/unlearn_bench/methods/sfron.py", 'p.grad.mul_(masks[name])', 'pass', "sfron"),
 ("sfron plain ascent", "src/unlearn_bench/methods/sfron.py", 'coef = 1.0 / (losses.detach().pow(lambd) + EPS)', 'coef = torch.ones_like(losses)', "sfron"),
 ("sfron mask train mode", "src/unlearn_bench/methods/sfron.py", '    model.eval()\n    params = dict', '    model.train()\n    params = dict', "sfron"),
 ("sfron steps in eval", "src/unlearn_bench/methods/sfron.py", '            model.train()\n', '            model.eval()\n', "sfron"),
 ("sfron no clipping", "src/unlearn_bench/methods/sfron.py", 'nn.utils.clip_grad_norm_(params, self.clip_grad_norm)', 'pass', "sfron"),
 ("sfron constant alpha", "src/unlearn_bench/methods/sfron.py", 'return alpha * (1 + math.cos(math.pi * t / iterations)) / 2', 'return alpha', "sfron"),
 ("sfron no augmentation", "src/unlearn_bench/methods/sfron.py", 'forget = ctx.forget_train_set if self.augment else ctx.forget_set', 'forget = ctx.forget_set', "sfron"),
 ("fcs softmax over forget", "src/unlearn_bench/methods/fcs.py", 'return -F.log_softmax(similarity, dim=-1).mean()', 'return -F.log_softmax(similarity, dim=0).mean()', "fcs_pulls"),
 ("fcs kl elementwise mean", "src/unlearn_bench/methods/fcs.py", '1.0 / log_p.shape[-1]), reduction="batchmean")', '1.0 / log_p.shape[-1]), reduction="mean")', "fcs_pulls"),
 ("fcs cosine per round", "src/unlearn_bench/methods/fcs.py", 'total_steps = len(forget_loader) * self.epochs', 'total_steps = self.epochs', "fcs_pulls"),
 ("fcs uniform in eval", "src/unlearn_bench/methods/fcs.py", '        model.train()\n        run("uniform"', '        model.eval()\n        run("uniform"', "fcs_pulls"),
 ("fcs retain lr unscaled", "src/unlearn_bench/methods/fcs.py", 'group["lr"] * self.batch_size / self.retain_lr_batch', 'group["lr"]', "fcs_pulls"),
 ("rum groups to come forgotten early", "src/unlearn_bench/methods/rum.py", 'np.concatenate([kept, *still_to_come])', 'kept', "low_to_high", "tests/test_rum.py"),
 ("rum high first", "src/unlearn_bench/methods/rum.py", 'zip(LEVELS, np.array_split(order, len(LEVELS))', 'zip(LEVELS[::-1], np.array_split(order, len(LEVELS))', "low_to_high", "tests/test_rum.py"),
 ('scar shrink once', 'src/unlearn_bench/methods/scar.py', 'self.gamma1, self.gamma2, self.shrink_passes)', 'self.gamma1, self.gamma2, 1)', "scar"),
 ('scar off-diagonal plain mean', 'src/unlearn_bench/methods/scar.py', 'v2 = off.sum() / nonzero if nonzero > 0 else off.sum()', 'v2 = off.sum() / (cov.numel() - cov.shape[0])', "scar"),
 ('scar unnormalised distance', 'src/unlearn_bench/methods/scar.py', 'diff = F.normalize(tukey(embeddings, delta), p=2, dim=-1)[:, None, :] - F.normalize(means, p=2, dim=-1)', 'diff = tukey(embeddings, delta)[:, None, :] - means', "scar"),
 ('scar targets every step', 'src/unlearn_bench/methods/scar.py', 'targets[n][:len(distances)]', 'wrong_class_targets(distances.detach(), yf, class_index, self.target_skip)', "fixed_at_the_first_step", "tests/test_scar.py"),
 ('scar skip by label', 'src/unlearn_bench/methods/scar.py', 'own = (first == labels) if skip == "index" else (classes[first] == labels)', 'own = classes[first] == labels', "target_is_the_nearest", "tests/test_scar.py"),
 ('scar kl elementwise mean', 'src/unlearn_bench/methods/scar.py', 'reduction="batchmean", log_target=True)', 'reduction="mean", log_target=True)', "scar"),
 ('scar no drop forgotten', 'src/unlearn_bench/methods/scar.py', 'student, stored = drop_forgotten(student, stored, tuple(ctx.forget_classes))', 'pass', "scar"),
 ('scar steps in eval', 'src/unlearn_bench/methods/scar.py', "model.train()  # the code's bbone.train(), fc.train()", 'model.eval()', "scar"),
 ('scar statistics in train', 'src/unlearn_bench/methods/scar.py', '        model.eval()\n        data = ctx.retain_train_set', '        model.train()\n        data = ctx.retain_train_set', "scar"),
 ('scar no extra forward', 'src/unlearn_bench/methods/scar.py', 'if self.extra_forward:', 'if False:', "scar"),
 ('scar no accuracy weighting', 'src/unlearn_bench/methods/scar.py', 'chosen = chosen * weight[yf]', 'pass', "scar"),
 ('scar unbalanced surrogate', 'src/unlearn_bench/methods/scar.py', 'weights = balanced_weights(logits.argmax(1), ctx.num_classes).cpu()', 'weights = torch.ones(len(logits))', "scar"),
 ("baseline copy", "src/unlearn_bench/methods/baseline.py", '        return model\n', '        import copy; return copy.deepcopy(model).train()\n', "baseline"),
]


def main() -> int:
    missed = 0
    for name, path, old, new, k, *test_file in MUTATIONS:
        file = pathlib.Path(path)
        source = file.read_text()
        if old not in source:
            print(f"{name}: the text to mutate is no longer in {path}; update this script")
            return 2
        file.write_text(source.replace(old, new, 1))
        try:
            tests = test_file[0] if test_file else "tests/test_reference_steps.py"
            result = subprocess.run([sys.executable, "-m", "pytest", tests, "-q",
                                     "-p", "no:cacheprovider", "-k", k], capture_output=True, text=True)
        finally:
            file.write_text(source)
        caught = result.returncode != 0
        missed += not caught
        print(f"{name:24s} -> {'caught' if caught else 'MISSED'}: {result.stdout.strip().splitlines()[-1]}")
    print(f"{len(MUTATIONS) - missed} of {len(MUTATIONS)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
