mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = ShopMetrics::CART_MEMORY_BYTES.rate();
}
