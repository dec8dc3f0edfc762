mod shop;

use fiko_dashboards::prelude::*;
use shop::*;

fn main() {
    let _ = ratio(ShopMetrics::CART_MEMORY_BYTES.value(), ShopMetrics::ORDERS.rate());
}
