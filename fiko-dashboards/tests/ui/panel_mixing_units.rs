mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = Panel::timeseries("Checkout")
        .query(ShopMetrics::CHECKOUT_DURATION_SECONDS.quantile(0.95))
        .query(ShopMetrics::CART_MEMORY_BYTES.value());
}
