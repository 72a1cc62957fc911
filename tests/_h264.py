"""Write a real H.264 elementary stream without an encoder (for decode tests).

OpenCV here decodes H.264 but cannot encode it.  H.264 has a macroblock type
that stores samples uncompressed (I_PCM), so a valid stream can be written
directly from the standard's syntax: one SPS, one PPS, then one IDR slice per
picture whose macroblocks are all I_PCM.  Baseline profile, 4:2:0, CAVLC.
The decoder must reproduce the YUV samples exactly, so a decoded frame equals
the I420 -> BGR conversion of what was written.
"""
from typing import List, Sequence

import cv2
import numpy as np


class _BitWriter:
    def __init__(self) -> None:
        self.bits: List[int] = []

    def u(self, value: int, width: int) -> None:
        self.bits.extend((value >> (width - 1 - i)) & 1 for i in range(width))

    def ue(self, value: int) -> None:  # unsigned Exp-Golomb
        code = value + 1
        width = code.bit_length()
        self.u(0, width - 1)
        self.u(code, width)

    def se(self, value: int) -> None:  # signed Exp-Golomb
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(0)

    def raw_bytes(self, data: bytes) -> None:
        for byte in data:
            self.u(byte, 8)

    def trailing(self) -> None:  # rbsp_trailing_bits
        self.bits.append(1)
        self.align_zero()

    def to_bytes(self) -> bytes:
        out = bytearray()
        for i in range(0, len(self.bits), 8):
            byte = 0
            for bit in self.bits[i:i + 8]:
                byte = (byte << 1) | bit
            out.append(byte)
        return bytes(out)


def _nal(nal_ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    payload = bytearray()
    zeros = 0
    for byte in rbsp:  # emulation prevention
        if zeros >= 2 and byte <= 3:
            payload.append(3)
            zeros = 0
        payload.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return b"\x00\x00\x00\x01" + bytes([(nal_ref_idc << 5) | nal_type]) + bytes(payload)


def _sps(width_mbs: int, height_mbs: int) -> bytes:
    w = _BitWriter()
    w.u(66, 8)          # profile_idc: Baseline
    w.u(0b11000000, 8)  # constraint_set0/1 flags, reserved zeros
    w.u(30, 8)          # level_idc
    w.ue(0)             # seq_parameter_set_id
    w.ue(0)             # log2_max_frame_num_minus4
    w.ue(2)             # pic_order_cnt_type
    w.ue(0)             # max_num_ref_frames
    w.u(0, 1)           # gaps_in_frame_num_value_allowed_flag
    w.ue(width_mbs - 1)
    w.ue(height_mbs - 1)
    w.u(1, 1)           # frame_mbs_only_flag
    w.u(1, 1)           # direct_8x8_inference_flag
    w.u(0, 1)           # frame_cropping_flag
    w.u(0, 1)           # vui_parameters_present_flag
    w.trailing()
    return _nal(3, 7, w.to_bytes())


def _pps() -> bytes:
    w = _BitWriter()
    w.ue(0)        # pic_parameter_set_id
    w.ue(0)        # seq_parameter_set_id
    w.u(0, 1)      # entropy_coding_mode_flag: CAVLC
    w.u(0, 1)      # bottom_field_pic_order_in_frame_present_flag
    w.ue(0)        # num_slice_groups_minus1
    w.ue(0)        # num_ref_idx_l0_default_active_minus1
    w.ue(0)        # num_ref_idx_l1_default_active_minus1
    w.u(0, 1)      # weighted_pred_flag
    w.u(0, 2)      # weighted_bipred_idc
    w.se(0)        # pic_init_qp_minus26
    w.se(0)        # pic_init_qs_minus26
    w.se(0)        # chroma_qp_index_offset
    w.u(1, 1)      # deblocking_filter_control_present_flag
    w.u(0, 1)      # constrained_intra_pred_flag
    w.u(0, 1)      # redundant_pic_cnt_present_flag
    w.trailing()
    return _nal(3, 8, w.to_bytes())


def _idr_slice(y: np.ndarray, u: np.ndarray, v: np.ndarray, idr_pic_id: int) -> bytes:
    height_mbs, width_mbs = y.shape[0] // 16, y.shape[1] // 16
    w = _BitWriter()
    w.ue(0)            # first_mb_in_slice
    w.ue(7)            # slice_type: I (all slices of the picture)
    w.ue(0)            # pic_parameter_set_id
    w.u(0, 4)          # frame_num
    w.ue(idr_pic_id)   # idr_pic_id
    w.u(0, 1)          # no_output_of_prior_pics_flag
    w.u(0, 1)          # long_term_reference_flag
    w.se(0)            # slice_qp_delta
    w.ue(1)            # disable_deblocking_filter_idc: off
    for my in range(height_mbs):
        for mx in range(width_mbs):
            w.ue(25)   # mb_type I_PCM
            w.align_zero()
            w.raw_bytes(y[16 * my:16 * my + 16, 16 * mx:16 * mx + 16].tobytes())
            w.raw_bytes(u[8 * my:8 * my + 8, 8 * mx:8 * mx + 8].tobytes())
            w.raw_bytes(v[8 * my:8 * my + 8, 8 * mx:8 * mx + 8].tobytes())
    w.trailing()
    return _nal(3, 5, w.to_bytes())


def to_i420(frame_bgr: np.ndarray):
    """Y, U, V planes of a BGR frame (even sizes, multiples of 16)."""
    height, width = frame_bgr.shape[:2]
    yuv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420)
    y = yuv[:height]
    chroma = yuv[height:].reshape(-1)
    quarter = (height // 2) * (width // 2)
    u = chroma[:quarter].reshape(height // 2, width // 2)
    v = chroma[quarter:].reshape(height // 2, width // 2)
    return y, u, v


def write_h264(path: str, frames_bgr: Sequence[np.ndarray]) -> str:
    """Write ``frames_bgr`` (sizes multiples of 16) as an H.264 Annex B stream."""
    height, width = frames_bgr[0].shape[:2]
    if height % 16 or width % 16:
        raise ValueError("frame sizes must be multiples of 16")
    with open(path, "wb") as fp:
        fp.write(_sps(width // 16, height // 16))
        fp.write(_pps())
        for index, frame in enumerate(frames_bgr):
            fp.write(_idr_slice(*to_i420(frame), idr_pic_id=index % 2))
    return path
