//! The process's memory allocator settings: owns the two `mallopt` calls (glibc), the
//! third `unsafe` exception (see ARCHITECTURE.md, "Invariants").
//!
//! Loading a compressed series decodes every slice through temporary buffers of a
//! quarter to two MiB (the compressed frame, the codec's output, the converted
//! samples). With glibc's defaults a freed buffer of that size goes back to the kernel
//! (its own mapping, or a heap trim), so the next slice faults as much fresh, zeroed
//! memory in again: about 80,000 page faults for a 300-slice 512×512 series. Keeping
//! such buffers in the heap made JPEG-LS loads 6–7 % faster and lossless JPEG 17–18 %
//! (`tessera bench load-once`, same machine, interleaved). Volume buffers, far
//! above the threshold, still get a mapping of their own and go back whole when freed.

/// Allocations of at least this many bytes get their own mapping.
const MMAP_THRESHOLD: i32 = 4 << 20;
/// Free memory at the top of a heap beyond this many bytes is returned to the kernel.
const TRIM_THRESHOLD: i32 = 64 << 20;

/// Applies the settings above (glibc on Linux; elsewhere nothing). Call once, early.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::tune();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    pub fn tune() {
        // SAFETY: mallopt only changes two allocator parameters (it takes the allocator's
        // own lock); it touches no memory of ours, and a refused value (return 0) leaves
        // glibc's defaults, which are as sound, only slower here.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, super::MMAP_THRESHOLD) };
        // SAFETY: as above.
        let _ = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, super::TRIM_THRESHOLD) };
    }
}
