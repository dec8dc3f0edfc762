mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = ShopMetrics::ORDERS.rate().by([RegionLabels::REGION]);
}
