use fiko_metrics::{Counter, Family, Histogram, LabelSet, LabelValue};

#[derive(LabelValue)]
enum Kind {
    Read,
    Write,
}

#[derive(LabelSet)]
struct KindLabels {
    kind: Kind,
}

#[derive(LabelSet)]
struct RouteLabels {
    route: String,
}

fn main() {
    let reads = Family::<KindLabels, Counter>::default();
    let routes = Family::<RouteLabels, Counter>::default();
    let latency = Family::<KindLabels, Histogram>::default();
    let id = reads.series_id(&KindLabels { kind: Kind::Read });
    // An id of another label set...
    routes.series(id).inc();
    // ...or of another metric type names no series of this family.
    latency.series(id).observe(1.0);
}
