//! Minimal DER walker for the few places where the exact signed bytes matter.
//!
//! The `der` crate re-sorts `SET OF` on decode, so re-encoding a decoded
//! `SignedAttributes` (or `SignerInfos`) may not reproduce what the signer
//! hashed. We therefore slice the original bytes. It only runs after the
//! input already decoded as strict DER, so a tiny TLV reader suffices;
//! any surprise yields `None` (reported as malformed), never a panic.

/// One DER element: tag byte, the whole TLV and its contents.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub whole: &'a [u8],
    pub contents: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and the rest.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    // High tag numbers never occur in the structures we walk.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first_len = *input.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2usize)
    } else {
        let n = usize::from(first_len & 0x7f);
        // 0x80 is BER indefinite length; more than 4 length bytes is absurd here.
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    let contents = input.get(header..end)?;
    let rest = input.get(end..)?;
    Some((
        Tlv {
            tag,
            whole,
            contents,
        },
        rest,
    ))
}

/// All elements inside a constructed value's contents.
pub(crate) fn children(contents: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = contents;
    while !rest.is_empty() {
        let (tlv, r) = read_tlv(rest)?;
        out.push(tlv);
        rest = r;
    }
    Some(out)
}

/// The raw pieces of a `ContentInfo { signedData }` we need verbatim.
pub(crate) struct RawSignedData<'a> {
    /// Each `Certificate` (tag SEQUENCE) from the `certificates` field.
    pub certificates: Vec<&'a [u8]>,
    /// Each `SignerInfo`, in the order the signer wrote them.
    pub signer_infos: Vec<&'a [u8]>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const CTX0_CONSTRUCTED: u8 = 0xa0;

pub(crate) fn split_signed_data(content_info: &[u8]) -> Option<RawSignedData<'_>> {
    let (ci, _) = read_tlv(content_info)?;
    if ci.tag != SEQUENCE {
        return None;
    }
    let ci_parts = children(ci.contents)?;
    let explicit = ci_parts.get(1)?;
    if explicit.tag != CTX0_CONSTRUCTED {
        return None;
    }
    let (sd, _) = read_tlv(explicit.contents)?;
    if sd.tag != SEQUENCE {
        return None;
    }
    let parts = children(sd.contents)?;
    // version, digestAlgorithms, encapContentInfo, [0] certs?, [1] crls?, signerInfos
    let signer_infos_tlv = parts.last()?;
    if signer_infos_tlv.tag != SET {
        return None;
    }
    let certificates = parts
        .iter()
        .skip(3)
        .find(|p| p.tag == CTX0_CONSTRUCTED)
        .map(|c| children(c.contents))
        .unwrap_or(Some(Vec::new()))?
        .into_iter()
        // Other CertificateChoices (attribute certs, other) are context-tagged.
        .filter(|c| c.tag == SEQUENCE)
        .map(|c| c.whole)
        .collect();
    let signer_infos = children(signer_infos_tlv.contents)?
        .into_iter()
        .map(|s| s.whole)
        .collect();
    Some(RawSignedData {
        certificates,
        signer_infos,
    })
}

/// The `[0] IMPLICIT SignedAttributes` of a raw `SignerInfo`, re-tagged as
/// `SET OF` (0x31) because that is what RFC 5652 §5.4 says is signed.
pub(crate) fn signed_attrs_for_signature(signer_info: &[u8]) -> Option<Option<Vec<u8>>> {
    let (si, _) = read_tlv(signer_info)?;
    if si.tag != SEQUENCE {
        return None;
    }
    let parts = children(si.contents)?;
    // version, sid, digestAlgorithm, then optional [0] signedAttrs.
    let candidate = parts.get(3)?;
    if candidate.tag != CTX0_CONSTRUCTED {
        return Some(None);
    }
    let mut bytes = candidate.whole.to_vec();
    if let Some(first) = bytes.first_mut() {
        *first = SET;
    }
    Some(Some(bytes))
}

/// The `tbsCertificate` bytes of a DER certificate, exactly as signed.
pub(crate) fn tbs_certificate(cert_der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = read_tlv(cert_der)?;
    if cert.tag != SEQUENCE {
        return None;
    }
    let (tbs, _) = read_tlv(cert.contents)?;
    (tbs.tag == SEQUENCE).then_some(tbs.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_indefinite_and_truncated_lengths() {
        assert!(read_tlv(&[0x30, 0x80, 0x00, 0x00]).is_none());
        assert!(read_tlv(&[0x30, 0x05, 0x01]).is_none());
        assert!(read_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(read_tlv(&[]).is_none());
    }

    #[test]
    fn reads_long_form_length() {
        let mut v = vec![0x04, 0x81, 0x80];
        v.extend(std::iter::repeat_n(0u8, 0x80));
        let (tlv, rest) = read_tlv(&v).expect("valid TLV");
        assert_eq!(tlv.contents.len(), 0x80);
        assert!(rest.is_empty());
    }
}
