"""The host side of the input: datasets opened as random-access splits, and the grain order that reads them.

errors.py      DataError, DataNotFoundError: the data cannot be read as the config says (one-line messages).
imaging.py     Section 2's resize and central crop; the image shape a config's net sees.
splits.py      a split (random access by index), its sub-ranges, minival held out of train.
folder.py      an image folder of class sub-folders as a split.
imagenet.py    ILSVRC2012 through TFDS's builder (validation labels by image number), and its 256x256 copy.
sources.py     open_split: a TFDS dataset, a folder or the synthetic task, by the config's `dataset`.
order.py       the batch order (grain): shuffled per epoch, each process's block, read ahead in workers.
statistics.py  the training set's mean image and RGB eigen-decomposition, cached in the data dir.
prepare.py     prepares a TFDS dataset in the array_record format (`python -m alexnet.prepare` is its command).

The random part of Section 4.1 runs on the device, in alexnet/augment.py.
"""
