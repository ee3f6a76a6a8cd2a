"""Pure figure builders for the app: numpy / pandas in, plotly figures (or plain tables / dicts) out.

Nothing here touches files, models or streamlit, so every function is testable on small arrays. One module
per kind of figure; the pages call them as ``viz.<name>``, so the names are gathered here:

    theme.py         colours (theme-safe), the 25-class palette, metric labels, the figure download config
    scores.py        the 10 numbers, per-class F (0 vs not applicable), labelled deltas, paired tables
    curves.py        threshold sweep, per-class precision-recall, training curves (metrics.csv)
    clip.py          one clip: timeline lanes (for assets/timeline.js), static timeline, heatmaps
    features.py      the t-SNE scatter and its lasso selection
    cooccurrence.py  25 x 25 class maps, lift over uniform, top pairs, CSV / PNG / SVG
    errors.py        error analysis: a clip's events with their kinds, kind counts, modality / class confusion

Needs the viz extra (plotly, matplotlib): ``pip install -e .[viz]`` (the app's extra includes it).
"""

from mmcse.viz import _requires  # noqa: F401  (first: one clear line when plotly / matplotlib are missing)
from mmcse.viz.clip import (
    lane_classes,
    probability_heatmap,
    probability_heatmaps,
    runs_of,
    timeline_data,
    timeline_figure,
)
from mmcse.viz.cooccurrence import (
    clicked_cell,
    cooccurrence_heatmap,
    lift_over_uniform,
    matrix_csv,
    matrix_image,
    matrix_png,
    normalize_rows,
    top_pairs,
)
from mmcse.viz.curves import metric_columns, pr_curves_figure, threshold_sweep_figure, training_curves_figure
from mmcse.viz.errors import (
    KIND_COLORS,
    class_confusion_heatmap,
    error_kind_bars,
    event_error_table,
    kind_color,
    modality_confusion_heatmap,
)
from mmcse.viz.features import selected_rows, tsne_figure
from mmcse.viz.scores import (
    format_p,
    metrics_bar,
    metrics_table,
    paired_table,
    per_class_delta,
    per_class_delta_bar,
    per_class_f_bar,
)
from mmcse.viz.theme import (
    CLASS_COLORS,
    MAP_NAMES,
    MAP_TITLES,
    METRIC_KEYS,
    METRIC_LABELS,
    MODALITY_COLORS,
    MODALITY_NAMES,
    MODALITY_SYMBOLS,
    figure_config,
    with_provenance,
)

__all__ = [
    "CLASS_COLORS", "MAP_NAMES", "MAP_TITLES", "METRIC_KEYS", "METRIC_LABELS", "MODALITY_COLORS", "MODALITY_NAMES",
    "MODALITY_SYMBOLS", "KIND_COLORS", "class_confusion_heatmap", "error_kind_bars", "event_error_table", "kind_color",
    "modality_confusion_heatmap", "clicked_cell", "cooccurrence_heatmap", "figure_config", "format_p", "lane_classes", "lift_over_uniform",
    "matrix_csv", "matrix_image", "matrix_png", "metric_columns", "metrics_bar", "metrics_table", "normalize_rows",
    "paired_table", "per_class_delta", "per_class_delta_bar", "per_class_f_bar", "pr_curves_figure",
    "probability_heatmap", "probability_heatmaps", "runs_of", "selected_rows", "threshold_sweep_figure",
    "timeline_data", "timeline_figure", "top_pairs", "training_curves_figure", "tsne_figure", "with_provenance",
]  # fmt: skip
