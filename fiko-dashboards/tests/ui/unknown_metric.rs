mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = Panel::timeseries("Orders").query(ShopMetrics::ORDRES.rate());
}
