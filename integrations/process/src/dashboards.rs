//! The default dashboard row and alerts of [`ProcessMetrics`], read by the dashboards
//! generator (`fiko-dashboards`' [`Observe`]).

use fiko_dashboards::prelude::*;

use crate::ProcessMetrics;

impl Observe for ProcessMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Process")
                .panel(
                    Panel::timeseries("Process memory")
                        .overview()
                        .description("Resident (RSS) and virtual (VMS) memory of each process. Bad: RSS climbing without falling back (a leak) until the process is OOM-killed.")
                        .query_as(
                            "{{instance}} RSS",
                            Self::PROCESS_RESIDENT_MEMORY_BYTES.value().by_instance(),
                        )
                        .query_as(
                            "{{instance}} VMS",
                            Self::PROCESS_VIRTUAL_MEMORY_BYTES.value().by_instance(),
                        ),
                )
                .panel(
                    Panel::timeseries("Process CPU usage")
                        .query(Self::PROCESS_CPU_SECONDS.rate().by_instance()),
                )
                .panel(
                    Panel::timeseries("Open file descriptors")
                        .query_as("open", Self::PROCESS_OPEN_FDS.value().by_instance())
                        .query_as("max", Self::PROCESS_MAX_FDS.value().by_instance()),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "HighCPUUsage",
                Self::PROCESS_CPU_SECONDS.rate().above(Percent(80.0)),
            )
            .for_(minutes(5))
            .summary("CPU usage above {threshold} on {{ $labels.instance }}")
            .description("{{ $labels.job }} at {{ $labels.instance }} has used more than {threshold} of a CPU core for {for}.")
            .diagnosis("A hot loop, a traffic surge or a busy-polling task keeps a core busy; a CPU profile of the process names the function.")
            .mitigation("Add instances for genuine load; otherwise fix or disable the code path the profile shows."),
            Alert::warning(
                "HighMemoryUsage",
                Self::PROCESS_RESIDENT_MEMORY_BYTES.value().above(Bytes::mib(1500)),
            )
            .for_(minutes(5))
            .summary("Resident memory above {threshold} on {{ $labels.instance }}")
            .description("{{ $labels.job }} at {{ $labels.instance }} has had more than {threshold} of resident memory for {for}; look for a leak before it is OOM-killed.")
            .diagnosis("Memory that only grows points to a leak or an unbounded cache; a step up after a deploy points to the change.")
            .mitigation("Restart the process to buy time, then bound the cache or fix the leak a heap profile shows."),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`), so applications need not list these sets again.
fiko_dashboards::observed!(ProcessMetrics);
