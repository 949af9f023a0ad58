//! Pre-faulting a slice's place in the volume buffer before it is filled: one
//! `madvise(MADV_POPULATE_WRITE)` call maps all of its pages at once, instead of one
//! page fault per 4 KiB as the reader or decoder first writes each page. When pixels
//! come straight from the page cache those faults cost more than the copy itself.
//!
//! Owns the crate's only `unsafe` block. The call is advice-like: it does not change
//! the contents, size or ownership of the memory (populating zero-filled anonymous
//! pages leaves them zero), and a failure (kernels before 5.14, other systems) is
//! ignored: the pages are then faulted in on first write as before.
//!
//! Transparent huge pages were tried instead and dropped: on virtual machines that
//! return free 2 MiB blocks to the host (free page reporting), a huge page is often
//! backed afresh by the host on first touch, which made some loads 5x slower.

/// Maps every whole page inside `slot` now (Linux); elsewhere it does nothing.
pub fn populate<T: bytemuck::Pod>(slot: &mut [T]) {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(slot);
    #[cfg(target_os = "linux")]
    linux::populate_write(bytes);
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod linux {
    const PAGE: usize = 4096;

    pub fn populate_write(bytes: &mut [u8]) {
        let start = bytes.as_mut_ptr() as usize;
        let first_page = start.next_multiple_of(PAGE);
        let end_page = (start + bytes.len()) / PAGE * PAGE;
        let Some(len) = end_page.checked_sub(first_page).filter(|&l| l > 0) else {
            return;
        };
        let offset = first_page - start;
        let Some(inner) = bytes.get_mut(offset..offset + len) else {
            return;
        };
        // SAFETY: `inner` is page-aligned and lies wholly inside `bytes`, which we
        // borrow mutably, so no one else reads or writes it during the call.
        // MADV_POPULATE_WRITE only faults the range's pages in as a write would; it
        // neither changes the contents (anonymous pages stay as they are, zero when
        // fresh) nor the mapping, so memory safety does not depend on its outcome.
        let result = unsafe {
            rustix::mm::madvise(
                inner.as_mut_ptr().cast(),
                inner.len(),
                rustix::mm::Advice::LinuxPopulateWrite,
            )
        };
        // EINVAL on kernels before 5.14: pages are faulted in on first write instead.
        let _ = result;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populating_keeps_the_contents() {
        let mut small = vec![7u16; 100];
        populate(&mut small);
        assert!(small.iter().all(|&v| v == 7));
        let mut big = vec![0i16; 3 << 20];
        big[5] = 9;
        populate(&mut big[1..]);
        big[12345] = -3;
        assert_eq!(big.iter().map(|&v| i64::from(v)).sum::<i64>(), 6);
    }
}
