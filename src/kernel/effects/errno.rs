//! An errno as the kernel spells it, for the effects' tables.

/// `EFAULT`, `EINVAL`, ... for the errnos a pin or an `O_DIRECT` call
/// returns; `errno N` for any other.
pub fn name(e: &std::io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let known = [
        (libc::EFAULT, "EFAULT"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EPERM, "EPERM"),
        (libc::EACCES, "EACCES"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EBUSY, "EBUSY"),
        (libc::EIO, "EIO"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOENT, "ENOENT"),
        (libc::EROFS, "EROFS"),
        (libc::ENXIO, "ENXIO"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == n)
        .map_or_else(|| format!("errno {n}"), |(_, s)| (*s).to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn errnos_are_named_as_the_kernel_names_them() {
        let e = std::io::Error::from_raw_os_error(libc::EFAULT);
        assert_eq!(super::name(&e), "EFAULT");
        let e = std::io::Error::from_raw_os_error(libc::ECHILD);
        assert_eq!(super::name(&e), format!("errno {}", libc::ECHILD));
    }
}
