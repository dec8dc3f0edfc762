mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = ShopMetrics::ORDERS.quantile(0.95);
}
