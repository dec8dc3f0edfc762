//! Default panels for the runtime's [`FunctionMetrics`], which `#[timed]` and `#[counted]`
//! record into.

use fiko_metrics::calls::{CallLabels, FunctionLabels, FunctionMetrics};

use crate::prelude::*;

impl Observe for FunctionMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Functions")
                .panel(
                    Panel::timeseries("Function calls by outcome")
                        .query(
                            Self::FUNCTION_CALLS
                                .rate()
                                .by([CallLabels::FUNCTION, CallLabels::OUTCOME]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Function error ratio").query(
                        ratio(
                            Self::FUNCTION_CALLS
                                .rate()
                                .filter_not(CallLabels::OUTCOME, "ok"),
                            Self::FUNCTION_CALLS.rate(),
                        )
                        .by([CallLabels::FUNCTION]),
                    ),
                )
                .panel(
                    Panel::timeseries("Function latency p95").query(
                        Self::FUNCTION_CALLS_DURATION_SECONDS
                            .quantile(0.95)
                            .by([FunctionLabels::FUNCTION]),
                    ),
                )
                .panel(
                    Panel::timeseries("Function calls in flight").query(
                        Self::FUNCTION_CALLS_IN_FLIGHT
                            .value()
                            .by([FunctionLabels::FUNCTION]),
                    ),
                ),
        ]
    }
}
