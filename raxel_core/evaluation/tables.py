"""Text tables of the evaluations: the pose-from-video table of :mod:`raxel_core.evaluation.pose`
(``raxel eval-pose``) and the Markdown tables of :mod:`raxel_core.evaluation.joint`
(``raxel eval-joint``), with one number formatter for both."""

from __future__ import annotations

import math
from functools import partial


def format_number(value, spec: str = ".1f", missing: str = "-") -> str:
    """``format(value, spec)``, or ``missing`` for ``None`` and for a float that is NaN or infinite
    (a metric that could not be computed)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, spec)


#: The pose table writes a missing number as ``-``, the joint-model tables as ``n/a``.
_dash = partial(format_number, missing="-")
_na = partial(format_number, missing="n/a")


def _ratio(baseline, ours) -> float:
    return baseline / ours if ours and ours > 0 and math.isfinite(baseline) else math.nan


def format_pose_row(r: dict) -> str:
    """One line of :func:`format_table`: a result dict of :func:`raxel_core.evaluation.pose.evaluate_clip`
    with ``clip`` added."""
    return (
        f"{r['clip']:<26} {r['estimator']:<15} {r['method']:<13} {r['registered']:>3}/{r['num_frames']:<3} "
        f"{r['time_s']:>6.1f} {_dash(r.get('auc30')):>6} {_dash(r.get('rra'), '.0f'):>4} "
        f"{_dash(r.get('rta'), '.0f'):>4} {_dash(r.get('rot_err_deg'), '.2f'):>7} "
        f"{_dash(r.get('trans_err'), '.2f'):>6} {_dash(r.get('ate_rmse'), '.3f'):>7} "
        f"{_dash(r.get('rpe_rot_rmse_deg'), '.2f'):>6} {_dash(r.get('focal_px'), '.0f'):>5} "
        f"{_dash(_ratio(r.get('focal_y_px', math.nan), r.get('focal_px')), '.3f'):>6} "
        f"{_dash(r.get('focal_x_err', math.nan) * 100, '+.1f'):>5} "
        f"{_dash(r.get('focal_y_err', math.nan) * 100, '+.1f'):>5}"
        + (f"  ERROR: {r['error'][:60]}" if "error" in r else "")
    )


def format_speed(results: list[dict]) -> str:
    """The speed table of one run: per clip and in total, raxel's and colmap_default's wall time
    (``time_s``) and CPU time (``cpu_s``: process and children, every thread), their AUC@30, and the
    ratios colmap_default / raxel of both times (above 1: raxel faster; issue 10's target is 3). CPU time
    is the figure to compare on a shared machine: other programs stretch wall time, not CPU time."""
    by_clip: dict = {}
    for r in results:
        by_clip.setdefault(r["clip"], {})[r["estimator"]] = r
    head = (f"{'clip':<26} {'raxel wall':>10} {'cpu':>6} {'AUC30':>6}   {'colmap wall':>11} {'cpu':>6} "
            f"{'AUC30':>6}   {'ratio wall':>10} {'cpu':>6}")
    lines = ["speed (colmap_default / raxel; the target is 3.00x or more)", head, "-" * len(head)]
    totals = {"raxel": [0.0, 0.0], "colmap_default": [0.0, 0.0]}

    def row(name, ours_wall, ours_cpu, ours_auc, base_wall, base_cpu, base_auc):
        return (f"{name:<26} {ours_wall:>10.2f} {_dash(ours_cpu, '.2f'):>6} {_dash(ours_auc):>6}   "
                f"{base_wall:>11.2f} {_dash(base_cpu, '.2f'):>6} {_dash(base_auc):>6}   "
                f"{_dash(_ratio(base_wall, ours_wall), '.2f'):>9}x {_dash(_ratio(base_cpu, ours_cpu), '.2f'):>5}x")

    for clip, pair in by_clip.items():
        if "raxel" not in pair or "colmap_default" not in pair:
            continue
        ours, base = pair["raxel"], pair["colmap_default"]
        for name, r in (("raxel", ours), ("colmap_default", base)):
            totals[name][0] += r["time_s"]
            totals[name][1] += r.get("cpu_s", math.nan)
        lines.append(row(clip, ours["time_s"], ours.get("cpu_s", math.nan), ours.get("auc30"), base["time_s"],
                         base.get("cpu_s", math.nan), base.get("auc30")))
    from .pose import aggregate  # pose.py imports format_pose_row from here

    agg = aggregate(results)
    lines.append(row("total (AUC30: mean)", *totals["raxel"], agg["raxel"]["auc30_mean"], *totals["colmap_default"],
                     agg["colmap_default"]["auc30_mean"]))
    return "\n".join(lines)


def format_table(results: list[dict], one_run_note: bool = True) -> str:
    """Text table: one row per clip and estimator (ours beside the baseline), then the aggregate
    per estimator and the speed ratio baseline time / raxel time; with ``one_run_note`` a closing line
    on what one run can and cannot show (:func:`format_runs` drops it above a spread table)."""
    head = (
        f"{'clip':<26} {'estimator':<15} {'method':<13} {'reg':>7} {'time_s':>6} {'AUC30':>6} "
        f"{'RRA':>4} {'RTA':>4} {'RotErr°':>7} {'TrErr':>6} {'ATE':>7} {'RPE°':>6} {'f_px':>5} "
        f"{'fy/fx':>6} {'fx%':>5} {'fy%':>5}"
    )
    lines = [head, "-" * len(head)]
    lines += [format_pose_row(r) for r in results]
    from .pose import aggregate  # pose.py imports format_pose_row from here

    agg = aggregate(results)
    lines += [
        "",
        (
            f"{'estimator':<15} {'clips':>5} {'complete':>8} {'failed':>6} {'frames':>9} {'time_s':>7} "
            f"{'AUC30 mean':>10} {'median':>6} {'strict':>6} {'RRA':>5} {'RTA':>5} {'RotErr°':>7} {'TrErr':>6} "
            f"{'ATE':>6}"
        ),
    ]
    for name, a in agg.items():
        lines.append(
            f"{name:<15} {a['clips']:>5} {a['complete']:>8} {a['failed']:>6} "
            f"{a['frames_registered']:>4}/{a['frames']:<4} {a['time_s']:>7.1f} {_dash(a['auc30_mean']):>10} "
            f"{_dash(a['auc30_median']):>6} {_dash(a['auc30_mean_strict']):>6} {_dash(a['rra_mean']):>5} "
            f"{_dash(a['rta_mean']):>5} {_dash(a['rot_err_deg_median'], '.2f'):>7} "
            f"{_dash(a['trans_err_median'], '.2f'):>6} {_dash(a['ate_rmse_median'], '.3f'):>6}"
        )
    if "raxel" in agg and "colmap_default" in agg and agg["raxel"]["time_s"] > 0:
        lines += ["", format_speed(results)]
    lines.append(
        "AUC30 'strict' counts failed or partially registered clips as 0. RotErr in degrees "
        "(CamI2V sum over frames), TrErr CamI2V (unit-extent), ATE Sim(3) RMSE in GT units; f_px the mean fx, "
        "fx% / fy% the error of the mean fx / fy against the reference's (read_reference)."
    )
    if one_run_note:
        lines.append(
            "One run. raxel is deterministic for a given --seed (bit-identical cameras in every run); "
            "colmap_default seeds from the clock and uses every thread, so its figures move from run to run: "
            "--repeats N prints each figure's mean and range."
        )
    return "\n".join(lines)


def format_runs(runs: list[list[dict]], seed: int) -> str:
    """The text ``raxel eval-pose`` and ``benchmarks/eval_pose.py`` print for ``runs`` (one result list
    per run of :func:`raxel_core.evaluation.pose.evaluate_repeats`): the table of one run; above one run,
    the last run's table and then each figure's mean and range (:func:`format_spread`)."""
    from .pose import spread  # pose.py imports format_pose_row from here

    if len(runs) == 1:
        return format_table(runs[0])
    return (f"{format_table(runs[-1], one_run_note=False)}\n\nspread over {len(runs)} runs (raxel seed {seed}):\n"
            f"{format_spread(spread(runs))}")


#: Figures of :func:`format_spread`: (key of :data:`raxel_core.evaluation.pose.SPREAD_FIGURES`, header,
#: format).
SPREAD_COLUMNS = (
    ("auc30_mean", "AUC30 mean", ".1f"), ("auc30_median", "AUC30 median", ".1f"),
    ("auc30_mean_strict", "AUC30 strict", ".1f"), ("rra_mean", "RRA", ".1f"), ("rta_mean", "RTA", ".1f"),
    ("rot_err_deg_median", "RotErr°", ".2f"), ("trans_err_median", "TrErr", ".3f"),
    ("ate_rmse_median", "ATE", ".4f"), ("frames_registered", "frames", ".0f"), ("time_s", "time_s", ".1f"),
    ("cpu_s", "cpu_s", ".1f"),
)


def format_spread(spread: dict) -> str:
    """Text table of :func:`raxel_core.evaluation.pose.spread`: per estimator and figure, the mean
    over the runs and the range ``[min - max]``, then how many clips gave identical metrics in every run."""
    lines = []
    for name, figures in spread.items():
        lines.append(f"{name}: {figures['runs']} runs, {figures['identical_clips']}/{figures['clips']} clips "
                     "with identical metrics in every run")
        for key, header, spec in SPREAD_COLUMNS:
            f = figures[key]
            same = " (same in every run)" if f["range"] == 0 else ""
            lines.append(f"  {header:<13} mean {_dash(f['mean'], spec):>8}   range {_dash(f['min'], spec)} - "
                         f"{_dash(f['max'], spec)} (spread {_dash(f['range'], spec)}){same}")
    return "\n".join(lines)


def format_tables(pose_rows: list[dict], follow_rows: list[dict], models: dict) -> str:
    """The tables as Markdown text."""
    out = [
        (
            "### Pose from video (in %, pooled over frame pairs: RRA@15 over all pairs, AUC@30 and RTA@15 over the "
            "pairs whose ground-truth cameras translate)"
        ),
        "",
        "| data | method | AUC@30 | RRA@15 | RTA@15 | pairs (translating) | failures | s / clip |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in pose_rows:
        out.append(
            f"| {r['data']} | {r['method']} | {_na(r['auc30'])} | {_na(r['rra15'])} | {_na(r['rta15'])} | "
            f"{r['pairs']} ({r['pairs_translating']}) | {r['failures']} | {_na(r['s_per_clip'], '.2f')} |"
        )
    out += [
        "",
        (
            "### Camera following (video mode from frame 0 + the clip's trajectory; medians; RotErr in degrees "
            "summed over frames, TransErr unit extent; fail = not every frame registered / rays not decoded)"
        ),
        "",
        (
            "| data | model | geometric on real: Rot / Trans (fail) | geometric on generated: Rot / Trans (fail) | "
            "model pose on real: Rot / Trans (fail) | model pose on generated: Rot / Trans (fail) | PSNR generated | "
            "PSNR repeat frame 0 |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in follow_rows if r["table"] == "following"):
        out.append(
            f"| {r['data']} | {r['model']} | {_na(r['geo_real_rot'])} / {_na(r['geo_real_trans'], '.2f')} "
            f"({r['geo_real_fail']}) | {_na(r['geo_gen_rot'])} / {_na(r['geo_gen_trans'], '.2f')} "
            f"({r['geo_gen_fail']}) | "
            f"{_na(r['model_real_rot'])} / {_na(r['model_real_trans'], '.2f')} ({r['model_real_fail']}) | "
            f"{_na(r['model_gen_rot'])} / {_na(r['model_gen_trans'], '.2f')} ({r['model_gen_fail']}) | "
            f"{_na(r['psnr_gen'], '.2f')} | {_na(r['psnr_copy_first'], '.2f')} |"
        )
    out += [
        "",
        (
            "### Closed loop (paper Table 2: trajectory from the real video with 2 ray steps -> video from it + "
            "frame 0 -> cameras of the regenerated video vs that trajectory; medians)"
        ),
        "",
        (
            "| data | model | trajectory vs ground truth: Rot / Trans | "
            "model pose on regenerated: Rot / Trans (fail) | geometric on regenerated: Rot / Trans (fail) | "
            "PSNR regenerated vs real |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for r in (r for r in follow_rows if r["table"] == "closed_loop"):
        out.append(
            f"| {r['data']} | {r['model']} | {_na(r['traj_vs_gt_rot'])} / {_na(r['traj_vs_gt_trans'], '.2f')} | "
            f"{_na(r['model_rot'])} / {_na(r['model_trans'], '.2f')} ({r['model_fail']}) | "
            f"{_na(r['geo_rot'])} / {_na(r['geo_trans'], '.2f')} ({r['geo_fail']}) | {_na(r['psnr'], '.2f')} |"
        )
    if len(models) > 1:
        out += [
            "",
            "### Ablation: " + " vs ".join(models) + " (rows above with the same data; pose at 2 ray steps)",
            "",
            (
                "| data | model | AUC@30 | RRA@15 | RTA@15 | following: model pose on generated Rot / Trans | "
                "PSNR generated | closed loop Rot / Trans | closed loop PSNR |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in models:
            for kind in sorted({r["data"] for r in pose_rows}):
                p = next((r for r in pose_rows if r["data"] == kind and r["method"] == f"{name}, 2 ray steps"), None)
                f = next(
                    (r for r in follow_rows if r["data"] == kind and r["model"] == name and r["table"] == "following"),
                    None,
                )
                c = next(
                    (
                        r
                        for r in follow_rows
                        if r["data"] == kind and r["model"] == name and r["table"] == "closed_loop"
                    ),
                    None,
                )
                if p is None or f is None or c is None:
                    continue
                out.append(
                    f"| {kind} | {name} | {_na(p['auc30'])} | {_na(p['rra15'])} | {_na(p['rta15'])} | "
                    f"{_na(f['model_gen_rot'])} / {_na(f['model_gen_trans'], '.2f')} | {_na(f['psnr_gen'], '.2f')} | "
                    f"{_na(c['model_rot'])} / {_na(c['model_trans'], '.2f')} | {_na(c['psnr'], '.2f')} |"
                )
    return "\n".join(out) + "\n"
