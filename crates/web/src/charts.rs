//! Line charts drawn as server-rendered SVG (template `chart.html`): the
//! geometry is computed here in integers, so pages need no JavaScript and no
//! plotting dependency for a handful of monthly points. Each chart carries a
//! title, a text summary and a data table for screen readers.

use billing::money::Money;
use chrono::NaiveDate;
use platform::console::{MoneySeries, Overview};

/// The SVG's coordinate space (it scales to the page's width).
const WIDTH: i64 = 480;
const HEIGHT: i64 = 200;
/// Room for the value axis label on the left and month labels below.
const LEFT: i64 = 64;
const RIGHT: i64 = 16;
const TOP: i64 = 16;
const BOTTOM: i64 = 32;
/// Line colours, each with at least 4.5:1 contrast on white.
const PALETTE: [&str; 4] = ["#1d4ed8", "#b91c1c", "#047857", "#6d28d9"];

/// One point of a line.
pub struct Point {
    /// Horizontal position.
    pub x: i64,
    /// Vertical position.
    pub y: i64,
    /// "Nov 2026: $20.00", the point's tooltip.
    pub label: String,
}

/// One series drawn as a line.
pub struct Line {
    /// Legend and table heading.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// The `points` attribute of the polyline.
    pub polyline: String,
    /// The points, for markers with tooltips.
    pub points: Vec<Point>,
}

/// A month label under the horizontal axis.
pub struct AxisLabel {
    /// Horizontal position.
    pub x: i64,
    /// "Nov".
    pub text: String,
}

/// One row of the data table: a month and each series' value.
pub struct Row {
    /// "Nov 2026".
    pub month: String,
    /// Formatted values, one per line.
    pub values: Vec<String>,
}

/// A chart ready for `chart.html`.
pub struct Chart {
    /// Unique on the page, for `aria-labelledby`.
    pub id: &'static str,
    /// What it shows.
    pub title: String,
    /// Its text summary (the SVG's `desc`).
    pub summary: String,
    /// The lines.
    pub lines: Vec<Line>,
    /// The table behind the lines, month by month.
    pub rows: Vec<Row>,
    /// Month labels.
    pub x_labels: Vec<AxisLabel>,
    /// The value at the top of the axis, formatted.
    pub y_max_label: String,
    /// Coordinate space and plot area, for the template.
    pub width: i64,
    /// See `width`.
    pub height: i64,
    /// Left edge of the plot area.
    pub left: i64,
    /// Bottom edge of the plot area.
    pub bottom: i64,
    /// Right edge of the plot area.
    pub right: i64,
    /// Top edge of the plot area.
    pub top: i64,
}

/// A series before drawing: name, values and how to print one.
pub struct Series {
    /// Legend and table heading.
    pub name: String,
    /// One value per month.
    pub values: Vec<i64>,
    /// How a value reads.
    pub format: Box<dyn Fn(i64) -> String>,
}

impl Chart {
    /// Lays out `series` (one value per month of `months`) on a shared axis
    /// from zero to a round maximum.
    pub fn new(id: &'static str, title: &str, months: &[NaiveDate], series: &[Series]) -> Self {
        let max = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .max()
            .unwrap_or(0);
        let top_value = round_up(max);
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let steps = i64::try_from(months.len().saturating_sub(1))
            .unwrap_or(1)
            .max(1);
        let x_of = |index: usize| LEFT + plot_width * i64::try_from(index).unwrap_or(0) / steps;
        let y_of = |value: i64| HEIGHT - BOTTOM - plot_height * value.max(0) / top_value;
        let month_name = |month: &NaiveDate| month.format("%b %Y").to_string();
        let lines = series
            .iter()
            .zip(PALETTE.iter().cycle())
            .map(|(s, color)| {
                let points: Vec<Point> = s
                    .values
                    .iter()
                    .zip(months)
                    .enumerate()
                    .map(|(index, (value, month))| Point {
                        x: x_of(index),
                        y: y_of(*value),
                        label: format!("{}: {}", month_name(month), (s.format)(*value)),
                    })
                    .collect();
                Line {
                    name: s.name.clone(),
                    color,
                    polyline: points
                        .iter()
                        .map(|p| format!("{},{}", p.x, p.y))
                        .collect::<Vec<_>>()
                        .join(" "),
                    points,
                }
            })
            .collect();
        let rows = months
            .iter()
            .enumerate()
            .map(|(index, month)| Row {
                month: month_name(month),
                values: series
                    .iter()
                    .map(|s| {
                        s.values
                            .get(index)
                            .map_or_else(String::new, |v| (s.format)(*v))
                    })
                    .collect(),
            })
            .collect();
        let x_labels = months
            .iter()
            .enumerate()
            .map(|(index, month)| AxisLabel {
                x: x_of(index),
                text: month.format("%b").to_string(),
            })
            .collect();
        let y_max_label = series
            .first()
            .map_or_else(|| top_value.to_string(), |s| (s.format)(top_value));
        Self {
            id,
            title: title.to_owned(),
            summary: summary(title, months, series),
            lines,
            rows,
            x_labels,
            y_max_label,
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            bottom: HEIGHT - BOTTOM,
            right: WIDTH - RIGHT,
            top: TOP,
        }
    }
}

/// "MRR, Jun 2026 to Nov 2026: USD from $0.00 to $20.00." for screen readers.
fn summary(title: &str, months: &[NaiveDate], series: &[Series]) -> String {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return format!("{title}: no data yet.");
    };
    let trends: Vec<String> = series
        .iter()
        .map(|s| {
            let start = s.values.first().copied().unwrap_or(0);
            let end = s.values.last().copied().unwrap_or(0);
            format!(
                "{} from {} to {}",
                s.name,
                (s.format)(start),
                (s.format)(end)
            )
        })
        .collect();
    let trends = if trends.is_empty() {
        "no data yet".to_owned()
    } else {
        trends.join("; ")
    };
    format!(
        "{title}, {} to {}: {trends}.",
        first.format("%b %Y"),
        last.format("%b %Y")
    )
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1).
fn round_up(value: i64) -> i64 {
    let mut scale = 1_i64;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * scale;
            if candidate >= value {
                return candidate;
            }
        }
        scale = match scale.checked_mul(10) {
            Some(next) => next,
            None => return i64::MAX,
        };
    }
}

/// A count, as it reads.
fn count_series(name: &str, values: &[i64]) -> Vec<Series> {
    vec![Series {
        name: name.to_owned(),
        values: values.to_vec(),
        format: Box::new(|value| value.to_string()),
    }]
}

/// One line per currency, amounts as money.
fn money_series(series: &[MoneySeries]) -> Vec<Series> {
    series
        .iter()
        .map(|s| {
            let currency = s.currency;
            Series {
                name: currency.code().to_uppercase(),
                values: s.points.clone(),
                format: Box::new(move |minor| Money::new(minor, currency).to_string()),
            }
        })
        .collect()
}

/// The dashboard's four charts out of the stored series.
pub fn overview_charts(overview: &Overview) -> Vec<Chart> {
    let months = &overview.months;
    vec![
        Chart::new(
            "chart-mrr",
            "Monthly recurring revenue",
            months,
            &money_series(&overview.mrr),
        ),
        Chart::new(
            "chart-subscriptions",
            "Active subscriptions",
            months,
            &count_series("Subscriptions", &overview.active_subscriptions),
        ),
        Chart::new(
            "chart-failed",
            "Failed payments",
            months,
            &count_series("Failed invoices", &overview.failed_payments),
        ),
        Chart::new(
            "chart-recovered",
            "Revenue recovered by dunning",
            months,
            &money_series(&overview.recovered),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_tops_out_at_a_round_value() {
        assert_eq!(
            [0, 1, 3, 7, 20, 2_001, 45_000].map(round_up),
            [1, 1, 5, 10, 20, 5_000, 50_000]
        );
    }

    #[test]
    fn points_span_the_plot_and_scale_to_the_axis() {
        let months: Vec<NaiveDate> = (1..=3)
            .map(|m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap())
            .collect();
        let chart = Chart::new(
            "c",
            "Subscriptions",
            &months,
            &[Series {
                name: "Subs".to_owned(),
                values: vec![0, 1, 2],
                format: Box::new(|v| format!("{v} subs")),
            }],
        );
        assert_eq!(chart.lines[0].polyline, "64,168 264,92 464,16");
        assert_eq!(chart.lines[0].points[2].label, "Mar 2026: 2 subs");
        assert_eq!(chart.rows[1].values, ["1 subs"]);
        assert_eq!(
            chart.summary,
            "Subscriptions, Jan 2026 to Mar 2026: Subs from 0 subs to 2 subs."
        );
    }
}
