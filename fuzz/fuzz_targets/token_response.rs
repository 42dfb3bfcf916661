//! A failed token response (status, body, Retry-After) as the refresh loop
//! classifies it: one line, the status shown, Retry-After capped, a
//! configuration error only for 400, 401 and 403.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[hi, lo, split], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let status = 100 + u16::from_be_bytes([hi, lo]) % 500;
    let (header, body) = rest.split_at((split as usize).min(rest.len()));
    let retry_after = std::str::from_utf8(header).ok().filter(|h| !h.is_empty());
    if let Some(value) = retry_after {
        let _ = pg_entra_pool::__fuzz::retry_after(value);
    }
    let classified = pg_entra_pool::__fuzz::classify(status, body, retry_after);
    pg_entra_pool::__fuzz::check_classified(status, &classified);
});
