//! The atomics every scheme uses, each operation reported to the census
//! before it runs (see the parent module). Same names, methods and
//! orderings as `std::sync::atomic`, which does the work: a wrapper adds
//! one thread-local flag test per operation and nothing to its ordering.

use super::Access;
use std::sync::atomic::Ordering;

/// Read-modify-writes of one value that `std` does in one call: noted,
/// then done.
macro_rules! counted_rmw {
    ($int:ty; $($(#[$doc:meta])* $op:ident,)*) => {
        $(
            $(#[$doc])*
            #[inline(always)]
            pub fn $op(&self, v: $int, order: Ordering) -> $int {
                self.note(Access::Rmw);
                self.0.$op(v, order)
            }
        )*
    };
}

macro_rules! counted_int {
    ($name:ident, $int:ty) => {
        #[doc = concat!("`std::sync::atomic::", stringify!($name), "`, counted.")]
        #[derive(Default, Debug)]
        #[repr(transparent)]
        pub struct $name(std::sync::atomic::$name);

        impl $name {
            /// A new atomic holding `v`.
            pub const fn new(v: $int) -> Self {
                Self(std::sync::atomic::$name::new(v))
            }

            #[inline(always)]
            fn note(&self, access: Access) {
                super::atomic(self as *const Self as usize, access);
            }

            /// A load (`atomic_read()`, `READ_ONCE()`).
            #[inline(always)]
            pub fn load(&self, order: Ordering) -> $int {
                self.note(Access::Read);
                self.0.load(order)
            }

            /// A store (`atomic_set()`, `WRITE_ONCE()`).
            #[inline(always)]
            pub fn store(&self, v: $int, order: Ordering) {
                self.note(Access::Write);
                self.0.store(v, order)
            }

            counted_rmw! {
                $int;
                /// `lock xadd`.
                fetch_add,
                /// `lock xadd` of the negation.
                fetch_sub,
                /// `lock or` (a `lock cmpxchg` loop where the old value is used).
                fetch_or,
                /// `lock and` (a `lock cmpxchg` loop where the old value is used).
                fetch_and,
                /// A `lock cmpxchg` loop, counted as one operation.
                fetch_max,
                /// `xchg` (locked without a prefix on x86).
                swap,
            }

            /// `lock cmpxchg`: counted whether or not it succeeds.
            #[inline(always)]
            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                self.note(Access::Rmw);
                self.0.compare_exchange(current, new, success, failure)
            }

            /// `lock cmpxchg` (weak: may fail spuriously elsewhere; not on x86).
            #[inline(always)]
            pub fn compare_exchange_weak(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                self.note(Access::Rmw);
                self.0.compare_exchange_weak(current, new, success, failure)
            }

            /// `std`'s `fetch_update`, spelt out so each `lock cmpxchg`
            /// of the loop counts: a load, then cmpxchg until it holds.
            #[inline(always)]
            pub fn fetch_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut f: F,
            ) -> Result<$int, $int>
            where
                F: FnMut($int) -> Option<$int>,
            {
                let mut prev = self.load(fetch_order);
                while let Some(next) = f(prev) {
                    match self.compare_exchange_weak(prev, next, set_order, fetch_order) {
                        Ok(v) => return Ok(v),
                        Err(v) => prev = v,
                    }
                }
                Err(prev)
            }

            /// The value, through exclusive access (not counted).
            pub fn get_mut(&mut self) -> &mut $int {
                self.0.get_mut()
            }

            /// The value, consuming the atomic (not counted).
            pub fn into_inner(self) -> $int {
                self.0.into_inner()
            }
        }
    };
}

counted_int!(AtomicI8, i8);
counted_int!(AtomicI32, i32);
counted_int!(AtomicI64, i64);
counted_int!(AtomicU8, u8);
counted_int!(AtomicU32, u32);
counted_int!(AtomicU64, u64);
counted_int!(AtomicUsize, usize);

/// `std::sync::atomic::AtomicPtr`, counted.
#[derive(Debug)]
#[repr(transparent)]
pub struct AtomicPtr<T>(std::sync::atomic::AtomicPtr<T>);

impl<T> Default for AtomicPtr<T> {
    fn default() -> Self {
        Self(std::sync::atomic::AtomicPtr::default())
    }
}

impl<T> AtomicPtr<T> {
    /// A new atomic holding `p`.
    pub const fn new(p: *mut T) -> Self {
        Self(std::sync::atomic::AtomicPtr::new(p))
    }

    #[inline(always)]
    fn note(&self, access: Access) {
        super::atomic(self as *const Self as usize, access);
    }

    /// A load (`rcu_dereference()`, `READ_ONCE()`).
    #[inline(always)]
    pub fn load(&self, order: Ordering) -> *mut T {
        self.note(Access::Read);
        self.0.load(order)
    }

    /// A store (`rcu_assign_pointer()`, `WRITE_ONCE()`).
    #[inline(always)]
    pub fn store(&self, p: *mut T, order: Ordering) {
        self.note(Access::Write);
        self.0.store(p, order)
    }

    /// `xchg`.
    #[inline(always)]
    pub fn swap(&self, p: *mut T, order: Ordering) -> *mut T {
        self.note(Access::Rmw);
        self.0.swap(p, order)
    }

    /// `lock cmpxchg`: counted whether or not it succeeds.
    #[inline(always)]
    pub fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.note(Access::Rmw);
        self.0.compare_exchange(current, new, success, failure)
    }

    /// `lock cmpxchg` (weak).
    #[inline(always)]
    pub fn compare_exchange_weak(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.note(Access::Rmw);
        self.0.compare_exchange_weak(current, new, success, failure)
    }

    /// The pointer, through exclusive access (not counted).
    pub fn get_mut(&mut self) -> &mut *mut T {
        self.0.get_mut()
    }
}
