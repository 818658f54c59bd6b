//! DEBUG MALLCTL and MALLCTL-STR: read and set jemalloc's tuning knobs by name.
//!
//! jemalloc checks the size of what it is given against the setting's type, so integers are
//! tried at 8, 4, 2 and 1 bytes until one fits. Settings that cannot be read (write-only
//! ones such as `thread.tcache.flush`) are written alone and answered with OK.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use rudis_resp::Argv;

use crate::command::error::{CmdError, NOT_INTEGER};
use crate::command::{CmdResult, Ctx};

/// DEBUG MALLCTL name [value]: replies with the setting's value (the old one when setting).
pub fn mallctl(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = c_name(argv.get(2));
    let new = match argv.try_get(3) {
        Some(v) => Some(rudis_resp::number::parse_i64(v).ok_or(NOT_INTEGER)?),
        None => None,
    };
    let mut width = 8;
    while width > 0 {
        let mut old = 0i64.to_le_bytes();
        let mut old_len = width;
        let mut new_bytes = new.unwrap_or(0).to_le_bytes();
        let new_ptr = new.map_or(std::ptr::null_mut(), |_| new_bytes.as_mut_ptr());
        let new_len = if new.is_some() { width } else { 0 };
        // SAFETY: NUL-terminated name; the buffers are 8 bytes and we state `width` <= 8.
        let ret = unsafe {
            raw(
                &name,
                old.as_mut_ptr().cast(),
                &mut old_len,
                new_ptr.cast(),
                new_len,
            )
        };
        match ret {
            0 => {
                ctx.reply.int(i64::from_le_bytes(old));
                return Ok(());
            }
            libc::EPERM if new.is_some() => {
                // SAFETY: as above, without reading.
                let ret = unsafe {
                    raw(
                        &name,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        new_ptr.cast(),
                        new_len,
                    )
                };
                return ok_or_errno(ctx, ret);
            }
            libc::EINVAL => width /= 2,
            e => return Err(errno_error(e)),
        }
    }
    Err(errno_error(libc::EINVAL))
}

/// DEBUG MALLCTL-STR name [value | VOID]: replies with the setting's string value; VOID
/// triggers a setting that takes no value.
pub fn mallctl_str(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = c_name(argv.get(2));
    let mut old: *const c_char = std::ptr::null();
    let mut old_len = std::mem::size_of::<*const c_char>();
    // SAFETY: jemalloc stores a pointer to a string it owns into `old`.
    let read = unsafe {
        raw(
            &name,
            (&mut old as *mut *const c_char).cast(),
            &mut old_len,
            std::ptr::null_mut(),
            0,
        )
    };
    let new = argv.try_get(3);
    if read != 0 && !(read == libc::EPERM && new.is_some()) {
        return Err(errno_error(read));
    }
    let mut written = 0;
    if let Some(value) = new {
        written = if value == b"VOID" {
            // SAFETY: a setting triggered without a value.
            unsafe {
                raw(
                    &name,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    0,
                )
            }
        } else {
            // jemalloc may keep the pointer, so the string must live forever.
            let text: &'static CStr = Box::leak(c_name(value).into_boxed_c_str());
            let mut ptr = text.as_ptr();
            // SAFETY: passes a pointer to a string that is never freed.
            unsafe {
                raw(
                    &name,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    (&mut ptr as *mut *const c_char).cast(),
                    std::mem::size_of::<*const c_char>(),
                )
            }
        };
    }
    if read == 0 && !old.is_null() {
        // SAFETY: jemalloc returned a NUL-terminated string it keeps alive.
        let text = unsafe { CStr::from_ptr(old) };
        ctx.reply.bulk(text.to_bytes());
        return Ok(());
    }
    ok_or_errno(ctx, written)
}

/// # Safety
/// The pointers must be null or valid for the sizes given, as `mallctl(3)` requires.
unsafe fn raw(
    name: &CStr,
    old: *mut c_void,
    old_len: *mut usize,
    new: *mut c_void,
    new_len: usize,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr(), old, old_len, new, new_len) }
}

fn c_name(bytes: &[u8]) -> CString {
    let clean: Vec<u8> = bytes.iter().copied().filter(|&c| c != 0).collect();
    CString::new(clean).unwrap_or_default()
}

fn ok_or_errno(ctx: &mut Ctx, ret: c_int) -> CmdResult {
    if ret != 0 {
        return Err(errno_error(ret));
    }
    ctx.reply.ok();
    Ok(())
}

/// The error Redis replies with: the system's text for the error number.
fn errno_error(code: c_int) -> CmdError {
    let text = crate::config::special::io_error_text(&std::io::Error::from_raw_os_error(code));
    crate::err!("ERR {text}")
}
