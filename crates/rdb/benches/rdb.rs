//! Reading and writing throughput on a synthetic dataset shaped like a typical cache: mostly
//! short strings, some small hashes, sets and lists in compact encodings, a few big values.
//! `cargo bench -p rudis-rdb`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rudis_rdb::{intset, listpack, Entry, EntryMeta, Item, Reader, Value, WriteOptions, Writer};

const KEYS: usize = 20_000;

fn dataset() -> Vec<Entry> {
    (0..KEYS)
        .map(|i| {
            let value = match i % 10 {
                0 => Value::HashListpack(listpack::from_values(
                    (0..10)
                        .flat_map(|f| {
                            [
                                format!("field{f}").into_bytes(),
                                format!("{}", i * f).into_bytes(),
                            ]
                        })
                        .collect::<Vec<_>>()
                        .iter()
                        .map(|v| &v[..]),
                )),
                1 => Value::SetIntset(intset::from_values(
                    &(0..20).map(|m| (m * i) as i64).collect::<Vec<_>>(),
                )),
                2 => Value::List(
                    (0..20)
                        .map(|e| format!("element-{e}-{i}").into_bytes())
                        .collect(),
                ),
                3 if i % 1000 == 3 => Value::String(format!("{i:08}").repeat(1000).into_bytes()),
                4 => Value::String(i.to_string().into_bytes()),
                _ => Value::String(format!("value-{i}-{}", "x".repeat(i % 40)).into_bytes()),
            };
            Entry {
                key: format!("key:{i}").into_bytes(),
                value,
                meta: EntryMeta {
                    expire_at_ms: (i % 7 == 0).then_some(1_900_000_000_000 + i as i64),
                    ..EntryMeta::default()
                },
            }
        })
        .collect()
}

fn write(entries: &[Entry], compression: bool) -> Vec<u8> {
    let mut w = Writer::new(
        Vec::with_capacity(4 << 20),
        WriteOptions {
            compression,
            checksum: true,
        },
    )
    .unwrap();
    w.select_db(0).unwrap();
    w.resize_db(entries.len() as u64, 0).unwrap();
    for e in entries {
        w.write_entry(e).unwrap();
    }
    w.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let entries = dataset();
    let file = write(&entries, true);
    let mut g = c.benchmark_group("rdb");
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.sample_size(20);
    g.bench_function("read", |b| {
        b.iter(|| {
            let n = Reader::new(&file[..])
                .unwrap()
                .filter(|i| matches!(i, Ok(Item::Entry(_))))
                .count();
            assert_eq!(n, KEYS);
        })
    });
    g.bench_function("write (compression on)", |b| {
        b.iter(|| write(&entries, true))
    });
    g.bench_function("write (compression off)", |b| {
        b.iter(|| write(&entries, false))
    });
    g.finish();

    let text: Vec<u8> = (0..64 * 1024u32)
        .map(|i| b"abcdefghij"[(i * 7 % 10) as usize] ^ (i / 1000) as u8)
        .collect();
    let mut packed = Vec::new();
    let mut compressor = rudis_rdb::lzf::Compressor::new();
    assert!(compressor.compress(&text, text.len(), &mut packed));
    let mut g = c.benchmark_group("lzf");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("compress", |b| {
        b.iter(|| compressor.compress(&text, text.len(), &mut packed))
    });
    g.bench_function("decompress", |b| {
        let mut out = Vec::with_capacity(text.len());
        b.iter(|| {
            out.clear();
            rudis_rdb::lzf::decompress(&packed, text.len(), &mut out).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
