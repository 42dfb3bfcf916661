//! The kong.conf parser and the resolution of both sides: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pg_entra_pool::__fuzz::conf(text);
    }
});
