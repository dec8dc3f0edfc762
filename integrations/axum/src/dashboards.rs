//! The default dashboard rows and alerts of [`HttpServerMetrics`], [`WebSocketMetrics`]
//! and [`EndpointMetrics`], read by the dashboards generator (`fiko-dashboards`'
//! [`Observe`]).

use fiko_dashboards::prelude::*;

use crate::endpoints::{EndpointMetrics, RefusalLabels};
use crate::layer::metrics::{ErrorLabels, HttpServerMetrics, RequestLabels, RouteLabels};
use crate::websocket::{MessageLabels, WebSocketMetrics};

impl Observe for HttpServerMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        let duration = Self::HTTP_SERVER_REQUEST_DURATION_SECONDS;
        vec![
            Row::new("HTTP")
                .panel(
                    Panel::stat("Request rate")
                        .overview()
                        .description("Requests per second served by the selected instances. Bad: a sudden drop to zero (nothing reaches the service) or a spike far above the usual level.")
                        .query(Self::HTTP_SERVER_REQUESTS.rate()),
                )
                .panel(
                    Panel::stat("HTTP error ratio")
                        .overview()
                        .description("Share of requests answered with a 5xx status: the signal the error alert uses.")
                        .query(ratio(
                            Self::HTTP_SERVER_REQUESTS
                                .rate()
                                .filter(RequestLabels::HTTP_RESPONSE_STATUS_CLASS, "5xx"),
                            Self::HTTP_SERVER_REQUESTS.rate(),
                        )),
                )
                .panel(
                    Panel::timeseries("HTTP request rate by route").overview().query(
                        Self::HTTP_SERVER_REQUESTS
                            .rate()
                            .by([RequestLabels::HTTP_ROUTE]),
                    ),
                )
                .panel(
                    Panel::timeseries("Responses by status class").overview()
                        .query(
                            Self::HTTP_SERVER_REQUESTS
                                .rate()
                                .by([RequestLabels::HTTP_RESPONSE_STATUS_CLASS]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Request latency").overview()
                        .query_as("p50", duration.quantile(0.5))
                        .query_as("p95", duration.quantile(0.95))
                        .query_as("p99", duration.quantile(0.99)),
                )
                .panel(
                    Panel::timeseries("Requests in flight by route").query(
                        Self::HTTP_SERVER_ACTIVE_REQUESTS
                            .value()
                            .by([RouteLabels::HTTP_ROUTE]),
                    ),
                )
                .panel(
                    Panel::timeseries("Request errors by type")
                        .query(
                            Self::HTTP_SERVER_REQUEST_ERRORS
                                .rate()
                                .by([ErrorLabels::ERROR_TYPE]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Response body size p95 by route").query(
                        Self::HTTP_SERVER_RESPONSE_BODY_SIZE_BYTES
                            .quantile(0.95)
                            .by([RequestLabels::HTTP_ROUTE]),
                    ),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        let requests = || Self::HTTP_SERVER_REQUESTS.rate();
        vec![
            Alert::critical(
                "HighErrorRate",
                ratio(
                    requests().filter(RequestLabels::HTTP_RESPONSE_STATUS_CLASS, "5xx"),
                    requests(),
                )
                .above(Percent(5.0)),
            )
            .per_job()
            // Two failures out of twenty requests are noise, not an outage.
            .only_when(requests().above(PerSecond(1.0)))
            .for_(minutes(5))
            .summary("More than {threshold} of HTTP requests to {{ $labels.job }} fail")
            .description("More than {threshold} of the requests to {{ $labels.job }}, all instances together, answered 5xx for {for}, with at least 1/s of traffic.")
            .diagnosis("A deploy, a failing dependency (database, Redis, an upstream API) or a crashing route are the usual causes; the application's error logs name the route.")
            .mitigation("Roll back a recent deploy, or restore the failing dependency; shed the failing route if it drags the others down."),
            Alert::warning(
                "HighResponseTime",
                Self::HTTP_SERVER_REQUEST_DURATION_SECONDS
                    .quantile(0.95)
                    .above(Seconds(2.0)),
            )
            .for_(minutes(5))
            .summary("p95 HTTP latency above {threshold} on {{ $labels.instance }}")
            .description("The 95th percentile of request durations at {{ $labels.instance }} has been above {threshold} for {for}.")
            .diagnosis("Slow queries, a saturated connection pool or runtime, or a slow upstream call make requests wait.")
            .mitigation("Find the slow dependency in the database and runtime rows, then scale it out or cut the slow calls."),
            Alert::warning("HighRequestRate", requests().above(PerSecond(1000.0)))
                .for_(minutes(5))
                .summary("Request rate above {threshold} on {{ $labels.instance }}")
                .description("{{ $labels.instance }} has served more than {threshold} for {for}: check for a traffic spike or abuse.")
                .diagnosis("A marketing push, a retrying client or a scraper can each multiply the traffic; the route breakdown tells which.")
                .mitigation("Rate-limit or block an abusive client; add instances when the traffic is genuine."),
        ]
    }
}

impl Observe for WebSocketMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("WebSockets")
                .panel(
                    Panel::timeseries("Active WebSocket connections")
                        .query(Self::WEBSOCKET_ACTIVE_CONNECTIONS.value()),
                )
                .panel(
                    Panel::timeseries("WebSocket messages by direction and kind")
                        .query(
                            Self::WEBSOCKET_MESSAGES
                                .rate()
                                .by([MessageLabels::DIRECTION, MessageLabels::KIND]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("WebSocket traffic").query(
                        Self::WEBSOCKET_MESSAGE_BYTES
                            .rate()
                            .by([MessageLabels::DIRECTION]),
                    ),
                )
                .panel(
                    Panel::timeseries("WebSocket connection duration p50/p95")
                        .query_as(
                            "p50",
                            Self::WEBSOCKET_CONNECTION_DURATION_SECONDS.quantile(0.5),
                        )
                        .query_as(
                            "p95",
                            Self::WEBSOCKET_CONNECTION_DURATION_SECONDS.quantile(0.95),
                        ),
                ),
        ]
    }
}

/// Refusals counted in a 5-minute window above which `RefusedScrapes` fires: Prometheus
/// scraping with a wrong or missing token is refused 20 times in 5 minutes at a 15 s
/// interval, a person guessing more often; one stray request stays below.
pub(crate) const REFUSAL_BURST: f64 = 10.0;

impl Observe for EndpointMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Metrics endpoint").panel(
                Panel::timeseries("Refused scrapes by endpoint and reason")
                    .query(
                        Self::SCRAPE_REFUSALS
                            .rate()
                            .by([RefusalLabels::ENDPOINT, RefusalLabels::REASON]),
                    )
                    .stacked(),
            ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "RefusedScrapes",
                Self::SCRAPE_REFUSALS
                    .increase_over(minutes(5))
                    .above(Count(REFUSAL_BURST)),
            )
            .for_(minutes(1))
            .summary("The metrics endpoints of {{ $labels.instance }} refuse requests")
            .description("More than {threshold} requests to the metrics or health endpoint of {{ $labels.job }} at {{ $labels.instance }} were refused (401/403) in 5 minutes: someone is guessing the bearer token or scraping from outside the allow-list, or Prometheus' token or address is wrong. `fiko_metrics_scrape_refusals_total` tells the reason.")
            .diagnosis("The refusal reason says whether the token is wrong (401) or the address is outside the allow-list (403).")
            .mitigation("Give Prometheus the current token or allow its address; block the source if the requests are hostile."),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`), so applications need not list these sets again.
fiko_dashboards::observed!(HttpServerMetrics, WebSocketMetrics, EndpointMetrics);
