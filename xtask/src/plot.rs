//! `curves.png`: training and validation bits per token (or perplexity, for word-level
//! runs) against the update, the training FLOPs or the training seconds, drawn from the run's
//! `metrics.jsonl` with plotters; and the experiment's `report.png`, validation curves of
//! several runs against FLOPs and against seconds.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// The plot's file name in a run folder.
pub const CURVES_FILE: &str = "curves.png";

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid TrueType; registration cannot fail on it.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One labelled curve: a line through `data` with a dot at every point.
fn draw_curve(
    chart: &mut Chart<'_, '_>,
    label: &str,
    data: &[(f64, f64)],
    color: RGBColor,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing the curve {label}: {e}");
    chart
        .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    chart
        .draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(|e| err(&e))?;
    Ok(())
}

/// The legend box of a chart's labelled curves.
fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("drawing the legend: {e}"))
}

/// What the curves are drawn against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum XAxis {
    /// Updates.
    #[default]
    Updates,
    /// Cumulative training FLOPs.
    Flops,
    /// Training seconds.
    Seconds,
}

impl XAxis {
    fn of(self, m: &sru_train::MetricLine) -> f64 {
        match self {
            XAxis::Updates => m.step as f64,
            XAxis::Flops => m.train_flops.unwrap_or(f64::NAN),
            XAxis::Seconds => m.elapsed_s,
        }
    }

    fn label(self) -> &'static str {
        match self {
            XAxis::Updates => "update",
            XAxis::Flops => "training FLOPs",
            XAxis::Seconds => "training seconds",
        }
    }
}

/// Draws `run_dir/curves.png` against `axis` (nothing when no metric was logged yet).
///
/// # Errors
/// Unreadable metrics, drawing or encoding failures.
pub fn curves_against(run_dir: &Path, axis: XAxis) -> Result<()> {
    let lines = sru_train::metrics::read(run_dir)?;
    if lines.is_empty() {
        return Ok(());
    }
    ensure_font();
    let config = sru_train::TrainConfig::load(&run_dir.join(sru_train::CONFIG_FILE)).ok();
    let words = config.is_some_and(|c| c.model.vocab_size() > 1024);
    let (label, value): (&str, fn(&sru_train::MetricLine) -> f64) = if words {
        ("perplexity", |m| m.ppl)
    } else {
        ("bits per token", |m| m.bpc)
    };
    let series = |split: &str| -> Vec<(f64, f64)> {
        lines
            .iter()
            .filter(|m| m.split == split)
            .map(|m| (axis.of(m), value(m)))
            .filter(|p| p.0.is_finite())
            .collect()
    };
    let train = series("train");
    let valid = series("valid");
    let all: Vec<&(f64, f64)> = train.iter().chain(&valid).collect();
    let max_x = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let min_y = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max_y = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((max_y - min_y) * 0.05).max(0.01);

    let path = run_dir.join(CURVES_FILE);
    let root = BitMapBackend::new(&path, (900, 560)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "{} — {label}",
        run_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x * 1.02, (min_y - pad)..(max_y + pad))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(axis.label())
        .y_desc(label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (name, data, color) in [("train", &train, BLUE), ("valid", &valid, RED)] {
        if data.is_empty() {
            continue;
        }
        draw_curve(&mut chart, name, data, color)?;
    }
    draw_legend(&mut chart)?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws `path`: on the left every run's validation bits per token against training FLOPs,
/// on the right against training seconds. `runs`: (label, metrics lines).
///
/// # Errors
/// Drawing or encoding failures.
pub fn experiment_figure(path: &Path, runs: &[(String, Vec<sru_train::MetricLine>)]) -> Result<()> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((1, 2));
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (panel, axis) in panels.iter().zip([XAxis::Flops, XAxis::Seconds]) {
        let series: Vec<(String, Vec<(f64, f64)>)> = runs
            .iter()
            .map(|(label, lines)| {
                let pts = lines
                    .iter()
                    .filter(|m| m.split == "valid")
                    .map(|m| (axis.of(m), m.bpc))
                    .filter(|p| p.0.is_finite())
                    .collect();
                (label.clone(), pts)
            })
            .collect();
        let pts: Vec<&(f64, f64)> = series.iter().flat_map(|s| &s.1).collect();
        if pts.is_empty() {
            continue;
        }
        let max_x = pts.iter().map(|p| p.0).fold(1.0, f64::max);
        let min_y = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let max_y = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((max_y - min_y) * 0.05).max(0.01);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("validation bits per token vs {}", axis.label()),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_x * 1.02, (min_y - pad)..(max_y + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(axis.label())
            .y_desc("bits per token")
            .x_label_formatter(&|x| {
                if axis == XAxis::Flops {
                    format!("{x:.1e}")
                } else {
                    format!("{x:.0}")
                }
            })
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| err(&e))?;
        for ((label, data), color) in series.iter().zip(colors.iter().cycle()) {
            draw_curve(&mut chart, label, data, *color)?;
        }
        draw_legend(&mut chart)?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
