//! BER → DER normalisation for CMS produced by streaming encoders.
//!
//! Java toolkits (BouncyCastle and tools built like it) often emit CMS with
//! indefinite lengths and the content as a constructed OCTET STRING. The
//! `der` crate rightly refuses that, so we rewrite such input to definite
//! lengths and primitive OCTET STRINGs before decoding. This can only lose
//! signatures, never forge one: everything signed (signed attributes, the
//! content octets, tbsCertificate) must still match byte for byte.

use crate::raw;

/// Deeper than any CMS with certificates needs; bounds recursion.
const MAX_DEPTH: usize = 64;
const OCTET_STRING: u8 = 0x04;
const CONSTRUCTED_OCTET_STRING: u8 = 0x24;
const CONSTRUCTED: u8 = 0x20;

/// The DER-shaped rewrite of one BER element filling `input`, or `None`.
pub(crate) fn normalize(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let rest = element(input, &mut out, 0)?;
    rest.is_empty().then_some(out)
}

/// Rewrites the element at the start of `input` into `out`; returns the rest.
fn element<'a>(input: &'a [u8], out: &mut Vec<u8>, depth: usize) -> Option<&'a [u8]> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (len, header) = read_length(input.get(1..)?)?;
    let body = input.get(1 + header..)?;
    let constructed = tag & CONSTRUCTED != 0;
    match len {
        Some(n) => {
            let content = body.get(..n)?;
            let rest = body.get(n..)?;
            if constructed {
                let mut inner = Vec::new();
                let mut r = content;
                while !r.is_empty() {
                    r = element(r, &mut inner, depth + 1)?;
                }
                finish(out, tag, &inner)?;
            } else {
                write_tlv(out, tag, content);
            }
            Some(rest)
        }
        None => {
            // Indefinite length is only legal on constructed encodings.
            if !constructed {
                return None;
            }
            let mut inner = Vec::new();
            let mut r = body;
            loop {
                if let Some(after_eoc) = r.strip_prefix(&[0u8, 0u8][..]) {
                    r = after_eoc;
                    break;
                }
                if r.is_empty() {
                    return None;
                }
                r = element(r, &mut inner, depth + 1)?;
            }
            finish(out, tag, &inner)?;
            Some(r)
        }
    }
}

/// Emits a constructed element; a constructed OCTET STRING becomes primitive.
fn finish(out: &mut Vec<u8>, tag: u8, inner: &[u8]) -> Option<()> {
    if tag != CONSTRUCTED_OCTET_STRING {
        write_tlv(out, tag, inner);
        return Some(());
    }
    let mut data = Vec::with_capacity(inner.len());
    let mut r = inner;
    while !r.is_empty() {
        // Segments were normalised already, so nested ones are primitive now.
        let (seg, rest) = raw::read_tlv(r)?;
        if seg.tag != OCTET_STRING {
            return None;
        }
        data.extend_from_slice(seg.contents);
        r = rest;
    }
    write_tlv(out, OCTET_STRING, &data);
    Some(())
}

/// `(Some(len), header_len)` or `(None, 1)` for the indefinite form.
fn read_length(input: &[u8]) -> Option<(Option<usize>, usize)> {
    let first = *input.first()?;
    if first < 0x80 {
        return Some((Some(usize::from(first)), 1));
    }
    if first == 0x80 {
        return Some((None, 1));
    }
    let n = usize::from(first & 0x7f);
    if n > 4 {
        return None;
    }
    let bytes = input.get(1..1 + n)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((Some(len), 1 + n))
}

fn write_tlv(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        // Fits in one byte by the check above.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_indefinite_lengths_and_segmented_octet_strings() {
        // SEQUENCE (indef) { [0] (indef) { OCTET STRING (constructed, indef) { "ab", "c" } } }
        let ber = [
            0x30, 0x80, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let der = normalize(&ber).expect("normalises");
        assert_eq!(der, [0x30, 0x07, 0xa0, 0x05, 0x04, 0x03, b'a', b'b', b'c']);
    }

    #[test]
    fn der_is_unchanged() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xff];
        assert_eq!(normalize(&der).as_deref(), Some(&der[..]));
    }

    #[test]
    fn rejects_broken_input() {
        assert_eq!(normalize(&[0x30, 0x80, 0x02, 0x01, 0x05]), None, "no EOC");
        assert_eq!(
            normalize(&[0x04, 0x80, 0x00, 0x00]),
            None,
            "indefinite primitive"
        );
        assert_eq!(normalize(&[0x30, 0x00, 0x00]), None, "trailing bytes");
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 200).flatten().collect();
        assert_eq!(normalize(&deep), None, "too deep");
    }

    #[test]
    fn long_lengths_are_minimal() {
        let mut ber = vec![0x24, 0x80, 0x04, 0x81, 0x80];
        ber.extend(std::iter::repeat_n(7u8, 0x80));
        ber.extend([0x04, 0x01, 7, 0x00, 0x00]);
        let der = normalize(&ber).expect("normalises");
        assert_eq!(&der[..3], &[0x04, 0x81, 0x81]);
        assert_eq!(der.len(), 3 + 0x81);
    }
}
