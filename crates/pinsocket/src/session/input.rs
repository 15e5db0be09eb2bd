//! [`Held`]: the input a session keeps between reads, in one box that
//! exists only while it holds bytes.

/// Input kept between reads: the unconsumed end of a read (a frame cut in
/// two) and a message that spans reads or frames. Boxed, and only while
/// either holds bytes, so an idle session pays one pointer for both.
#[derive(Default)]
pub(super) struct Held(Option<Box<HeldBytes>>);

#[derive(Default)]
struct HeldBytes {
    leftover: Vec<u8>,
    message: Vec<u8>,
}

impl Held {
    pub(super) fn with_leftover(leftover: Vec<u8>) -> Held {
        let mut held = Held::default();
        if !leftover.is_empty() {
            held.bytes().leftover = leftover;
        }
        held
    }

    fn bytes(&mut self) -> &mut HeldBytes {
        self.0.get_or_insert_with(Box::default)
    }

    /// Frees the box once it holds nothing.
    fn release_if_empty(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|b| b.leftover.is_empty() && b.message.is_empty())
        {
            self.0 = None;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(super) fn leftover(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |b| &b.leftover)
    }

    pub(super) fn take_leftover(&mut self) -> Vec<u8> {
        self.take(|b| &mut b.leftover)
    }

    /// Takes one of the buffers, freeing the box if both are then empty.
    fn take(&mut self, which: impl FnOnce(&mut HeldBytes) -> &mut Vec<u8>) -> Vec<u8> {
        let taken = self
            .0
            .as_mut()
            .map(|b| std::mem::take(which(b)))
            .unwrap_or_default();
        self.release_if_empty();
        taken
    }

    pub(super) fn set_leftover(&mut self, rest: &[u8]) {
        self.bytes().leftover = rest.to_vec();
    }

    pub(super) fn has_message(&self) -> bool {
        self.0.as_ref().is_some_and(|b| !b.message.is_empty())
    }

    /// The message being assembled (allocating the box if need be).
    pub(super) fn message(&mut self) -> &mut Vec<u8> {
        &mut self.bytes().message
    }

    pub(super) fn take_message(&mut self) -> Vec<u8> {
        self.take(|b| &mut b.message)
    }
}
