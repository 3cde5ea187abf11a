//! Arrow arrays built from row values, and a source's rows as one Arrow record batch: what the
//! scanner hands to Python through the Arrow C data interface (`lib.rs`), so no value of a row
//! ever becomes a Python object. Which columns there are, and their types, is `schema.rs`'s.

use arrow_buffer::{ArrowNativeType, BooleanBufferBuilder, Buffer, NullBufferBuilder};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Fields};

/// A finished array. Every builder here lays out its buffers as its type requires, so a failure
/// is a bug in this module.
fn build(builder: arrow_data::ArrayDataBuilder) -> ArrayData {
    builder.build().expect("the buffers match their Arrow type")
}

/// A fixed-width column (`Int8`, `Int32`, `Int64`, `Float32`); nulls are zeros behind the
/// validity bitmap.
pub fn primitive<T: ArrowNativeType>(data_type: DataType, values: impl ExactSizeIterator<Item = Option<T>>) -> ArrayData {
    let n = values.len();
    let mut nulls = NullBufferBuilder::new(n);
    let mut out = Vec::with_capacity(n);
    for v in values {
        nulls.append(v.is_some());
        out.push(v.unwrap_or_default());
    }
    build(ArrayData::builder(data_type).len(n).add_buffer(Buffer::from_vec(out)).nulls(nulls.finish()))
}

pub fn boolean(values: impl ExactSizeIterator<Item = Option<bool>>) -> ArrayData {
    let n = values.len();
    let (mut nulls, mut bits) = (NullBufferBuilder::new(n), BooleanBufferBuilder::new(n));
    for v in values {
        nulls.append(v.is_some());
        bits.append(v.unwrap_or(false));
    }
    build(ArrayData::builder(DataType::Boolean).len(n).add_buffer(bits.finish().into_inner()).nulls(nulls.finish()))
}

/// A variable-width column: offsets of type `O` (i32, or i64 for the `Large` types) into one
/// buffer of every value's bytes.
fn variable<'a, O>(data_type: DataType, values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) -> ArrayData
where
    O: ArrowNativeType + TryFrom<usize>,
{
    let n = values.len();
    let mut nulls = NullBufferBuilder::new(n);
    let mut offsets: Vec<O> = Vec::with_capacity(n + 1);
    let mut data = Vec::new();
    let offset = |len: usize| O::try_from(len).unwrap_or_else(|_| panic!("{data_type} column of {len} bytes is over its offset type"));
    offsets.push(offset(0));
    for v in values {
        nulls.append(v.is_some());
        data.extend_from_slice(v.unwrap_or_default());
        offsets.push(offset(data.len()));
    }
    let builder = ArrayData::builder(data_type.clone()).len(n).add_buffer(Buffer::from_vec(offsets));
    build(builder.add_buffer(Buffer::from_vec(data)).nulls(nulls.finish()))
}

pub fn utf8<'a>(values: impl ExactSizeIterator<Item = Option<&'a str>>) -> ArrayData {
    variable::<i32>(DataType::Utf8, values.map(|v| v.map(str::as_bytes)))
}

pub fn binary<'a>(values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) -> ArrayData {
    variable::<i32>(DataType::Binary, values)
}

pub fn large_binary<'a>(values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) -> ArrayData {
    variable::<i64>(DataType::LargeBinary, values)
}

/// `rows` rows of `children` (one array per field, in field order) as a record batch: a struct
/// array without nulls, the form the C data interface passes record batches in.
pub fn record_batch(fields: Fields, rows: usize, children: Vec<ArrayData>) -> ArrayData {
    build(ArrayData::builder(DataType::Struct(fields)).len(rows).child_data(children))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_hold_values_and_nulls() {
        let text = utf8([Some("ab"), None, Some(""), Some("é")].into_iter());
        assert_eq!((text.len(), text.null_count()), (4, 1));
        assert_eq!(text.buffer::<i32>(0), &[0, 2, 2, 2, 4]);
        assert_eq!(text.buffers()[1].as_slice(), "abé".as_bytes());
        let ints = primitive(DataType::Int64, [Some(5i64), None].into_iter());
        assert_eq!((ints.buffer::<i64>(0), ints.null_count()), (&[5i64, 0][..], 1));
        let flags = boolean([Some(true), Some(false), None].into_iter());
        assert_eq!((flags.buffers()[0].as_slice()[0] & 0b11, flags.null_count()), (0b01, 1));
        let big = large_binary([Some(&b"\xff\xd8"[..]), None].into_iter());
        assert_eq!(big.buffer::<i64>(0), &[0, 2, 2]);
        // no validity bitmap at all when nothing is null
        assert!(binary([Some(&b"x"[..])].into_iter()).nulls().is_none());
    }

    #[test]
    #[should_panic(expected = "the buffers match")]
    fn a_child_of_another_type_than_its_field_is_refused() {
        let fields: Fields = vec![arrow_schema::Field::new("x", DataType::Int32, true)].into();
        record_batch(fields, 1, vec![utf8([Some("a")].into_iter())]);
    }
}
