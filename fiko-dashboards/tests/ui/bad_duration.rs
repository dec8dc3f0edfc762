mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = Alert::warning("SlowCheckout", ShopMetrics::CHECKOUT_DURATION_SECONDS.quantile(0.95).above(Seconds(2.0)))
        .for_("5 min");
}
