/* Shrinks a phone photo before it is uploaded: a 3–12 MB photo over a village's mobile link
   takes minutes, and the server keeps only a copy of at most 1600 px anyway
   (workflows.evidence.services.DISPLAY_MAX_PX). PhotoShrink.shrink(file) resolves to a JPEG of
   at most PhotoShrink.LONGEST px on the long side, the pixels upright, quality 0.82 (lower, down
   to 0.55, while the copy is over 320 KB) — or to the very file it was given, and never
   rejects: a photo sent as it is beats no photo.

   The original's EXIF goes along: the capture time and GPS position are evidence the server
   reads. So only JPEGs are shrunk. A HEIC that a browser can decode (Safari) would lose its
   EXIF in a canvas, and the server converts HEIC, PNG and WebP itself.

   No library and no eval (Content-Security-Policy); Promises and Blobs are assumed. */
(function () {
  "use strict";

  var SMALL_BYTES = 600 * 1024; // at most LONGEST px and this size: sent as it is
  // ~300 KB at 1600×1200 for a phone photo at the first quality; a detailed scene (foliage,
  // rippling water) can take twice that, so lower qualities are tried until the copy fits the
  // budget: on a village's 400 kbps uplink every 100 KB is 2 s.
  var QUALITIES = [0.82, 0.72, 0.62, 0.55];
  var BUDGET_BYTES = 320 * 1024;
  var EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
  var JFIF_HEADER = [0x4a, 0x46, 0x49, 0x46, 0]; // "JFIF\0"
  var ORIENTATION = 0x0112;
  // EXIF, GPS and Interoperability IFDs: where the data lies that a cut must not touch.
  var SUB_IFDS = { 0x8769: true, 0x8825: true, 0xa005: true };
  var TYPE_BYTES = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8]; // TIFF field type → bytes per value

  var api = { LONGEST: 1600, shrink: shrink };
  window.PhotoShrink = api;

  function shrink(file) {
    return Promise.resolve(file).then(attempt).catch(function () { return file; });
  }

  function attempt(file) {
    return bytesOf(file).then(function (buffer) {
      var jpeg = scanJpeg(new Uint8Array(buffer));
      if (!jpeg || (jpeg.width && isSmall(file, jpeg.width, jpeg.height))) return file;
      return decode(file).then(function (picture) {
        if (isSmall(file, picture.width, picture.height)) {
          picture.close();
          return file;
        }
        var exif = jpeg.exif && carriedExif(jpeg, picture);
        return encode(picture).then(function (blob) { return withExif(blob, exif); });
      }).then(function (result) {
        if (result === file || result.size >= file.size) return file;
        return new File([result], jpegName(file.name), {
          type: "image/jpeg", lastModified: file.lastModified,
        });
      });
    });
  }

  function isSmall(file, width, height) {
    return Math.max(width, height) <= api.LONGEST && file.size <= SMALL_BYTES;
  }

  function jpegName(name) {
    return (name || "photo").replace(/\.[^.\/\\]*$/, "") + ".jpg";
  }

  // FileReader rather than Blob.arrayBuffer(): the phones of 2020 (Safari 13) lack the latter.
  function bytesOf(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(blob);
    });
  }

  // --- pixels -----------------------------------------------------------------------------

  function decode(file) {
    if (!window.createImageBitmap) return decodeAsImage(file);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      return {
        source: bitmap, width: bitmap.width, height: bitmap.height,
        close: function () { bitmap.close(); },
      };
    });
  }

  // Browsers without createImageBitmap (Safari before 15) turn an <img> by its EXIF as well.
  function decodeAsImage(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file); // the page's CSP allows blob: images (previews)
      var image = new Image();
      image.onload = function () {
        URL.revokeObjectURL(url);
        resolve({
          source: image, width: image.naturalWidth, height: image.naturalHeight,
          close: function () {},
        });
      };
      image.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error("undecodable"));
      };
      image.src = url;
    });
  }

  function encode(picture) {
    var scale = Math.min(1, api.LONGEST / Math.max(picture.width, picture.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(picture.width * scale));
    canvas.height = Math.max(1, Math.round(picture.height * scale));
    var context = canvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high"; // plain bilinear would alias a 2.5× reduction
    context.drawImage(picture.source, 0, 0, canvas.width, canvas.height);
    picture.close();
    function at(index) {
      return new Promise(function (resolve, reject) {
        canvas.toBlob(function (blob) {
          if (blob) resolve(blob); else reject(new Error("not encoded"));
        }, "image/jpeg", QUALITIES[index]);
      }).then(function (blob) {
        if (blob.size <= BUDGET_BYTES || index === QUALITIES.length - 1) return blob;
        return at(index + 1);
      });
    }
    return at(0).then(function (blob) {
      // Phones keep a canvas's memory until it is resized; two photos in a row can run out.
      canvas.width = canvas.height = 0;
      return blob;
    }, function (error) {
      canvas.width = canvas.height = 0;
      throw error;
    });
  }

  // --- the JPEG's segments ----------------------------------------------------------------

  /* The original's size (SOF) and its first "Exif\0\0" APP1 segment, copied; null for a file that
     does not start as a JPEG. A damaged segment list ends the scan: what was found is kept. */
  function scanJpeg(bytes) {
    if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) {
      return null;
    }
    var found = { width: 0, height: 0, exif: null };
    var at = 2;
    while (at + 4 <= bytes.length && bytes[at] === 0xff) {
      var marker = bytes[at + 1];
      if (marker === 0xff) { at += 1; continue; } // fill byte
      if (marker === 0xda || marker === 0xd9) break; // image data (SOS) or the end (EOI)
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; }
      var end = at + 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
      if (end > bytes.length || end < at + 4) break;
      if (isFrameHeader(marker) && end >= at + 9) {
        found.height = (bytes[at + 5] << 8) | bytes[at + 6];
        found.width = (bytes[at + 7] << 8) | bytes[at + 8];
      } else if (marker === 0xe1 && !found.exif && startsWith(bytes, at + 4, EXIF_HEADER)) {
        found.exif = bytes.slice(at, end); // a copy, changed in place later
      }
      at = end;
    }
    return found;
  }

  function isFrameHeader(marker) { // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC)
    return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
  }

  function startsWith(bytes, at, prefix) {
    for (var i = 0; i < prefix.length; i++) {
      if (bytes[at + i] !== prefix[i]) return false;
    }
    return true;
  }

  /* The new JPEG with the EXIF segment right after SOI, or after the JFIF APP0 that the JFIF
     standard wants first (Chromium and Firefox write one). */
  function withExif(blob, exif) {
    if (!exif) return blob;
    return bytesOf(blob.slice(0, 64)).then(function (buffer) {
      var head = new Uint8Array(buffer);
      if (head[0] !== 0xff || head[1] !== 0xd8) return blob;
      var at = 2;
      if (head[2] === 0xff && head[3] === 0xe0 && startsWith(head, 6, JFIF_HEADER)) {
        at = 4 + ((head[4] << 8) | head[5]);
      }
      return new Blob([blob.slice(0, at), exif, blob.slice(at)], { type: "image/jpeg" });
    });
  }

  // --- EXIF -------------------------------------------------------------------------------

  /* The original's APP1 segment ready for the new JPEG: Orientation set to 1 where the decoder
     turned the pixels, the thumbnail cut off where that is safe. null when the segment is
     malformed: the photo then goes without EXIF rather than as a file no one can read. A segment
     can only shrink here, so it stays within the 64 KB a JPEG segment can hold. */
  function carriedExif(jpeg, picture) {
    try {
      var segment = jpeg.exif;
      var tiff = tiffReader(segment.subarray(10));
      var ifd0 = readIfd(tiff, tiff.u32(4));
      if (wasTurned(jpeg, picture)) setUpright(tiff, ifd0);
      var length = 10 + withoutThumbnail(tiff, ifd0);
      segment[2] = (length - 2) >> 8;
      segment[3] = (length - 2) & 0xff;
      return segment.subarray(0, length);
    } catch (error) {
      return null;
    }
  }

  /* Whether the decoder applied the EXIF orientation. createImageBitmap is told to, but an old
     decoder may not: a quarter turn that did not happen shows in the size, and then the tag must
     stay, or the server would show the photo on its side. (A half turn or a mirror does not
     show; those are taken as done.) */
  function wasTurned(jpeg, picture) {
    var sideways = jpeg.width !== jpeg.height && picture.width === jpeg.width &&
      picture.height === jpeg.height;
    return !(sideways && orientationOf(jpeg.exif) >= 5);
  }

  function orientationOf(segment) {
    try {
      var tiff = tiffReader(segment.subarray(10));
      var ifd0 = readIfd(tiff, tiff.u32(4));
      for (var i = 0; i < ifd0.entries.length; i++) {
        if (tiff.u16(ifd0.entries[i]) === ORIENTATION) return tiff.u16(ifd0.entries[i] + 8);
      }
    } catch (error) { /* no orientation to read */ }
    return 1;
  }

  /* Reads and writes within the TIFF structure only: DataView throws on anything outside it,
     so a bad offset ends up in carriedExif's catch instead of reading the image data. */
  function tiffReader(bytes) {
    var view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    var order = String.fromCharCode(bytes[0], bytes[1]);
    if (order !== "II" && order !== "MM") throw new Error("EXIF byte order");
    var little = order === "II";
    var tiff = {
      length: bytes.length,
      u16: function (at) { return view.getUint16(at, little); },
      u32: function (at) { return view.getUint32(at, little); },
      set16: function (at, value) { view.setUint16(at, value, little); },
      set32: function (at, value) { view.setUint32(at, value, little); },
    };
    if (tiff.u16(2) !== 42) throw new Error("not TIFF");
    return tiff;
  }

  function readIfd(tiff, at) { // the offsets of its 12-byte entries and of its next-IFD link
    var count = tiff.u16(at);
    var entries = [];
    for (var i = 0; i < count; i++) entries.push(at + 2 + 12 * i);
    var next = at + 2 + 12 * count;
    tiff.u32(next); // throws when the IFD runs past the segment
    return { entries: entries, next: next };
  }

  function setUpright(tiff, ifd0) {
    ifd0.entries.forEach(function (entry) {
      if (tiff.u16(entry) !== ORIENTATION) return;
      // One SHORT, as the standard says. Any other form cannot be rewritten safely, and left as
      // it is the server would turn the upright pixels once more.
      if (tiff.u16(entry + 2) !== 3 || tiff.u32(entry + 4) !== 1) throw new Error("orientation");
      tiff.set16(entry + 8, 1);
    });
  }

  /* The TIFF length once the thumbnail (IFD1) is cut off — done only when it lies after all
     that IFD0 and its EXIF, GPS and Interoperability IFDs point to, as phones write it, so the
     cut can break nothing. It is a copy of the photo as stored: with Orientation 1 it would
     show on its side. Anything unexpected keeps it. */
  function withoutThumbnail(tiff, ifd0) {
    var ifd1 = tiff.u32(ifd0.next);
    if (ifd1 === 0) return tiff.length;
    try {
      if (dataEnd(tiff, ifd0, 0) > ifd1) return tiff.length;
    } catch (error) {
      return tiff.length;
    }
    tiff.set32(ifd0.next, 0);
    return ifd1;
  }

  function dataEnd(tiff, ifd, depth) {
    var end = ifd.next + 4;
    ifd.entries.forEach(function (entry) {
      var type = tiff.u16(entry + 2);
      var size = (TYPE_BYTES[type] || Infinity) * tiff.u32(entry + 4);
      var value = tiff.u32(entry + 8);
      if (size > 4) end = Math.max(end, value + size);
      if (SUB_IFDS[tiff.u16(entry)] && depth < 2) {
        end = Math.max(end, dataEnd(tiff, readIfd(tiff, value), depth + 1));
      }
    });
    return end;
  }
})();
