// The one-vs-all split a config's data section asks for. Torch-free.
#pragma once

#include "data/Protocol.h"
#include "shiftad/Config.h"

namespace shiftad::data {

/// The split of data.root, source, target, normal_class, pool_fraction, contamination
/// and split_seed (data.pool_images and data.test_images given in place of its pool and
/// its test split); clear errors when unset, and when the test split leaks into training.
ProtocolSplit splitFor(const DataConfig& d);

/// The same split without the leak check (check-data reports a leak among its problems).
ProtocolSplit splitAllowingLeaks(const DataConfig& d);

/// The test split alone: data.test_images' labelled images, reading no other folder (a
/// held-out set needs no source or target domain beside it), else splitFor(d).test.
LabelledImages testSplitFor(const DataConfig& d);

}  // namespace shiftad::data
